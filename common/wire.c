#include "wire.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "xmalloc.h"

/* The model's enums and the protocol's share their numbering, so conversion is a cast. */
_Static_assert(OBJ_KIND_COUNT == PROSPECTOR__OBJ_KIND__OBJ_SEQUENCE + 1, "ObjKind matches enum obj_kind");
_Static_assert((int)CHANGE_RENAME == (int)PROSPECTOR__OP__OP_RENAME, "Op matches enum change_op");
_Static_assert((int)SEV_BREAKING == (int)PROSPECTOR__SEVERITY__SEV_BREAKING, "Severity matches enum severity");

/* Bounds on what one message may carry. A batch is at most a few MiB (WELCOME.max_batch_bytes), so
 * these only stop a hostile or broken peer from making us allocate or loop without limit. */
#define WIRE_MAX_ITEMS 1000000   /* changes, objects or obs updates in one batch */
#define WIRE_MAX_ATTRS OBJ_MAX_ATTRS /* attributes or observations of one object */
#define WIRE_MAX_ROWS 65536      /* rows of one change */
#define WIRE_MAX_SOURCES 65536   /* sources in a HELLO, probes in a HEARTBEAT */
#define WIRE_HASH_LEN 32

/* Where in the message a check is: a chain of names up to the body, spelled out as
 * "batch.changes[3].object.attrs[1]" only for an error. Spelling it at every level was 6 % of
 * the collector's instructions for batches that check out, as nearly all do. */
struct wire_ctx {
	struct wire_msg *msg;
	const struct wire_ctx *up; /* NULL: the body */
	const char *name;
	size_t i;                  /* the element's index, or WIRE_NO_INDEX */
};

#define WIRE_NO_INDEX ((size_t)-1)

/* snprintf that truncates quietly: error texts are best effort. */
static void wire_strf(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void wire_strf(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

/* Spells x into dst (n > 0 bytes), outermost name first; the length it would have taken. */
static size_t wire_where(const struct wire_ctx *x, char *dst, size_t n)
{
	size_t len = x->up ? wire_where(x->up, dst, n) : 0;
	const char *dot = len ? "." : "";
	int w;

	if (len >= n)
		return len;
	if (x->i == WIRE_NO_INDEX)
		w = snprintf(dst + len, n - len, "%s%s", dot, x->name);
	else
		w = snprintf(dst + len, n - len, "%s%s[%zu]", dot, x->name, x->i);
	return w < 0 ? len : len + (size_t)w;
}

static int wire_fail(struct wire_ctx *x, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int wire_fail(struct wire_ctx *x, const char *field, const char *fmt, ...)
{
	char where[160], what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	wire_where(x, where, sizeof(where));
	wire_strf(x->msg->error, sizeof(x->msg->error), "%s.%s: %s", where, field, what);
	return WIRE_E_INVALID;
}

/* A nested context: x's name + "." + name, with "[i]" when i is not WIRE_NO_INDEX. */
static void wire_ctx_sub(struct wire_ctx *sub, const struct wire_ctx *x, const char *name, size_t i)
{
	*sub = (struct wire_ctx){ .msg = x->msg, .up = x, .name = name, .i = i };
}

static int check_str(struct wire_ctx *x, const char *field, const char *s, bool required)
{
	if (!s)
		return required ? wire_fail(x, field, "missing") : 0;
	if (!utf8_valid(s))
		return wire_fail(x, field, "not valid UTF-8");
	return 0;
}

static int check_nonempty(struct wire_ctx *x, const char *field, const char *s)
{
	int r = check_str(x, field, s, true);

	if (r == 0 && !*s)
		return wire_fail(x, field, "empty");
	return r;
}

/* Object keys end up joined by MODEL_REF_SEP in REFS attributes, so they must not contain it. */
static int check_key(struct wire_ctx *x, const char *field, const char *s, bool required)
{
	int r;

	if (!s && !required)
		return 0;
	r = check_nonempty(x, field, s);
	if (r == 0 && strchr(s, MODEL_REF_SEP))
		return wire_fail(x, field, "contains the reference separator 0x1f");
	return r;
}

static int check_hash(struct wire_ctx *x, const char *field, bool has, const ProtobufCBinaryData *h)
{
	if (has && h->len != WIRE_HASH_LEN)
		return wire_fail(x, field, "%zu bytes, expected %d", h->len, WIRE_HASH_LEN);
	return 0;
}

static int check_enum(struct wire_ctx *x, const char *field, int v, int max)
{
	if (v < 0 || v > max)
		return wire_fail(x, field, "value %d out of range", v);
	return 0;
}

static int check_count(struct wire_ctx *x, const char *field, size_t n, size_t max)
{
	if (n > max)
		return wire_fail(x, field, "%zu entries, at most %zu allowed", n, max);
	return 0;
}

static int check_attrs(struct wire_ctx *x, const char *field, Prospector__Attr **a, size_t n)
{
	struct wire_ctx sub;
	int r = check_count(x, field, n, WIRE_MAX_ATTRS);

	for (size_t i = 0; r == 0 && i < n; i++) {
		wire_ctx_sub(&sub, x, field, i);
		r = check_nonempty(&sub, "name", a[i]->name);
		if (r == 0)
			r = check_str(&sub, "value", a[i]->value, true);
	}
	return r;
}

static int check_object(struct wire_ctx *x, const Prospector__Object *o)
{
	int r = check_enum(x, "kind", (int)o->kind, OBJ_KIND_COUNT - 1);

	if (r == 0)
		r = check_key(x, "key", o->key, true);
	if (r == 0)
		r = check_key(x, "parent", o->parent, false);
	if (r == 0)
		r = check_str(x, "name", o->name, true);
	if (r == 0)
		r = check_nonempty(x, "path", o->path);
	if (r == 0)
		r = check_attrs(x, "attrs", o->attrs, o->n_attrs);
	if (r == 0)
		r = check_attrs(x, "obs", o->obs, o->n_obs);
	if (r == 0)
		r = check_hash(x, "hash", true, &o->hash);
	return r;
}

static int check_row(struct wire_ctx *x, const Prospector__Row *row)
{
	int r = check_enum(x, "op", (int)row->op, PROSPECTOR__OP__OP_RENAME);

	if (r == 0)
		r = check_str(x, "field", row->field, false);
	if (r == 0)
		r = check_str(x, "before", row->before, false);
	if (r == 0)
		r = check_str(x, "after", row->after, false);
	if (r == 0)
		r = check_enum(x, "severity", (int)row->severity, PROSPECTOR__SEVERITY__SEV_BREAKING);
	return r;
}

/* ADD and ALTER carry the new state of the same object; DROP carries none. */
static int check_change_object(struct wire_ctx *x, const Prospector__Change *c)
{
	struct wire_ctx sub;
	int r;

	if (c->op == PROSPECTOR__OP__OP_DROP)
		return c->object ? wire_fail(x, "object", "present on a DROP") : 0;
	if (!c->object)
		return wire_fail(x, "object", "missing on an ADD or ALTER");
	wire_ctx_sub(&sub, x, "object", WIRE_NO_INDEX);
	r = check_object(&sub, c->object);
	if (r == 0 && (strcmp(c->object->key, c->key) != 0 || c->object->kind != c->kind))
		return wire_fail(x, "object", "key or kind differs from the change's");
	return r;
}

static int check_change(struct wire_ctx *x, const Prospector__Change *c)
{
	struct wire_ctx sub;
	int r = check_enum(x, "op", (int)c->op, PROSPECTOR__OP__OP_ALTER);

	if (r == 0)
		r = check_key(x, "key", c->key, true);
	if (r == 0)
		r = check_enum(x, "kind", (int)c->kind, OBJ_KIND_COUNT - 1);
	if (r == 0)
		r = check_nonempty(x, "path", c->path);
	if (r == 0)
		r = check_key(x, "old_key", c->old_key, false);
	if (r == 0 && c->old_key && c->op != PROSPECTOR__OP__OP_ALTER)
		r = wire_fail(x, "old_key", "present on an ADD or DROP");
	if (r == 0)
		r = check_change_object(x, c);
	if (r == 0)
		r = check_count(x, "rows", c->n_rows, WIRE_MAX_ROWS);
	for (size_t i = 0; r == 0 && i < c->n_rows; i++) {
		wire_ctx_sub(&sub, x, "rows", i);
		r = check_row(&sub, c->rows[i]);
	}
	return r;
}

static int check_obs_update(struct wire_ctx *x, const Prospector__ObsUpdate *u)
{
	int r = check_key(x, "key", u->key, true);

	if (r == 0)
		r = check_attrs(x, "obs", u->obs, u->n_obs);
	return r;
}

static int check_source_info(struct wire_ctx *x, const Prospector__SourceInfo *s)
{
	int r = check_nonempty(x, "name", s->name);

	if (r == 0)
		r = check_str(x, "driver", s->driver, false);
	if (r == 0)
		r = check_str(x, "department", s->department, false);
	if (r == 0)
		r = check_str(x, "system", s->system, false);
	if (r == 0)
		r = check_hash(x, "root_hash", s->has_root_hash, &s->root_hash);
	return r;
}

static int check_hello(struct wire_ctx *x, const Prospector__Envelope *env)
{
	const Prospector__Hello *h = env->hello;
	struct wire_ctx sub;
	int r = check_key(x, "agent_id", h->agent_id, true);

	if (r == 0)
		r = check_str(x, "version", h->version, false);
	if (r == 0)
		r = check_str(x, "hostname", h->hostname, false);
	if (r == 0)
		r = check_count(x, "sources", h->n_sources, WIRE_MAX_SOURCES);
	for (size_t i = 0; r == 0 && i < h->n_sources; i++) {
		wire_ctx_sub(&sub, x, "sources", i);
		r = check_source_info(&sub, h->sources[i]);
	}
	return r;
}

static int check_welcome(struct wire_ctx *x, const Prospector__Envelope *env)
{
	(void)x;
	(void)env;
	return 0;
}

static int check_reject(struct wire_ctx *x, const Prospector__Envelope *env)
{
	return check_str(x, "reason", env->reject->reason, true);
}

/* Checks one repeated field of a batch with the given per-element checker. */
#define CHECK_LIST(x, field, arr, n, fn)                                   \
	do {                                                               \
		struct wire_ctx sub_;                                      \
		if (r == 0)                                                \
			r = check_count(x, field, n, WIRE_MAX_ITEMS);      \
		for (size_t i_ = 0; r == 0 && i_ < (n); i_++) {            \
			wire_ctx_sub(&sub_, x, field, i_);                 \
			r = fn(&sub_, (arr)[i_]);                          \
		}                                                          \
	} while (0)

static int check_batch(struct wire_ctx *x, const Prospector__Envelope *env)
{
	const Prospector__Batch *b = env->batch;
	struct wire_ctx sub;
	int r = check_nonempty(x, "source", b->source);

	if (r == 0)
		r = check_enum(x, "kind", (int)b->kind, PROSPECTOR__BATCH_KIND__BATCH_OBS);
	if (r == 0)
		r = check_hash(x, "root_hash", b->has_root_hash, &b->root_hash);
	if (r == 0 && b->seq == 0)
		r = wire_fail(x, "seq", "sequence numbers start at 1");
	CHECK_LIST(x, "changes", b->changes, b->n_changes, check_change);
	CHECK_LIST(x, "objects", b->objects, b->n_objects, check_object);
	CHECK_LIST(x, "obs", b->obs, b->n_obs, check_obs_update);
	if (r == 0 && b->info) {
		wire_ctx_sub(&sub, x, "info", WIRE_NO_INDEX);
		r = check_source_info(&sub, b->info);
	}
	return r;
}

static int check_ack(struct wire_ctx *x, const Prospector__Envelope *env)
{
	(void)x;
	(void)env;
	return 0;
}

static int check_nack(struct wire_ctx *x, const Prospector__Envelope *env)
{
	return check_str(x, "reason", env->nack->reason, false);
}

static int check_probe(struct wire_ctx *x, const Prospector__ProbeStatus *p)
{
	int r = check_nonempty(x, "source", p->source);

	if (r == 0)
		r = check_str(x, "error", p->error, false);
	/* Found by tests/fuzz (fuzz-wire): warning went unchecked into the catalog's TEXT column and the
	 * status output; every string the peer sends must be UTF-8. */
	if (r == 0)
		r = check_str(x, "warning", p->warning, false);
	if (r == 0)
		r = check_hash(x, "root_hash", p->has_root_hash, &p->root_hash);
	return r;
}

static int check_heartbeat(struct wire_ctx *x, const Prospector__Envelope *env)
{
	const Prospector__Heartbeat *h = env->heartbeat;
	struct wire_ctx sub;
	int r = check_key(x, "agent_id", h->agent_id, true);

	if (r == 0)
		r = check_str(x, "version", h->version, false);
	if (r == 0)
		r = check_count(x, "probes", h->n_probes, WIRE_MAX_SOURCES);
	for (size_t i = 0; r == 0 && i < h->n_probes; i++) {
		wire_ctx_sub(&sub, x, "probes", i);
		r = check_probe(&sub, h->probes[i]);
	}
	return r;
}

static int check_resync(struct wire_ctx *x, const Prospector__Envelope *env)
{
	int r = check_nonempty(x, "source", env->resync->source);

	if (r == 0)
		r = check_str(x, "reason", env->resync->reason, false);
	return r;
}

static int check_command(struct wire_ctx *x, const Prospector__Envelope *env)
{
	int r = check_enum(x, "kind", (int)env->command->kind, PROSPECTOR__COMMAND_KIND__CMD_RESYNC);

	if (r == 0)
		r = check_nonempty(x, "source", env->command->source);
	return r;
}

/* Indexed by the oneof case, which is the field number of the body. */
static const struct {
	const char *name;
	int (*check)(struct wire_ctx *x, const Prospector__Envelope *env);
} bodies[] = {
	[PROSPECTOR__ENVELOPE__BODY_HELLO] = { "hello", check_hello },
	[PROSPECTOR__ENVELOPE__BODY_WELCOME] = { "welcome", check_welcome },
	[PROSPECTOR__ENVELOPE__BODY_REJECT] = { "reject", check_reject },
	[PROSPECTOR__ENVELOPE__BODY_BATCH] = { "batch", check_batch },
	[PROSPECTOR__ENVELOPE__BODY_ACK] = { "ack", check_ack },
	[PROSPECTOR__ENVELOPE__BODY_NACK] = { "nack", check_nack },
	[PROSPECTOR__ENVELOPE__BODY_HEARTBEAT] = { "heartbeat", check_heartbeat },
	[PROSPECTOR__ENVELOPE__BODY_RESYNC] = { "resync", check_resync },
	[PROSPECTOR__ENVELOPE__BODY_COMMAND] = { "command", check_command },
};

static int wire_validate(struct wire_msg *msg)
{
	const Prospector__Envelope *env = msg->env;
	unsigned body = (unsigned)env->body_case;
	struct wire_ctx x = { .msg = msg, .i = WIRE_NO_INDEX };

	if (env->protocol < WIRE_PROTOCOL_MIN) {
		snprintf(msg->error, sizeof(msg->error), "protocol version %u is older than the oldest this side speaks (%d)",
			 env->protocol, WIRE_PROTOCOL_MIN);
		return WIRE_E_PROTOCOL;
	}
	if (body >= sizeof(bodies) / sizeof(bodies[0]) || !bodies[body].check) {
		snprintf(msg->error, sizeof(msg->error), "envelope has no body");
		return WIRE_E_INVALID;
	}
	x.name = bodies[body].name;
	return bodies[body].check(&x, env);
}

/* protobuf-c checks required fields and wire types; wire_validate checks the rest. Repeated oneof
 * members are resolved by protobuf-c (the last one wins), so exactly one body is set or none. */
int wire_decode(const void *data, size_t len, struct wire_msg *ret_msg)
{
	int r;

	memset(ret_msg, 0, sizeof(*ret_msg));
	ret_msg->env = prospector__envelope__unpack(NULL, len, data);
	if (!ret_msg->env) {
		snprintf(ret_msg->error, sizeof(ret_msg->error),
			 "%zu bytes are not a protocol envelope (truncated, or a required field is missing)", len);
		return WIRE_E_DECODE;
	}
	r = wire_validate(ret_msg);
	if (r) {
		prospector__envelope__free_unpacked(ret_msg->env, NULL);
		ret_msg->env = NULL;
	}
	return r;
}

void wire_msg_clear(struct wire_msg *msg)
{
	if (msg->env)
		prospector__envelope__free_unpacked(msg->env, NULL);
	msg->env = NULL;
	msg->error[0] = '\0';
}

unsigned wire_protocol_agree(unsigned peer)
{
	return peer < WIRE_PROTOCOL ? peer : WIRE_PROTOCOL;
}

void wire_encode_envelope(Prospector__Envelope *env, struct buf *out)
{
	wire_encode_envelope_v(env, WIRE_PROTOCOL, out);
}

void wire_encode_envelope_v(Prospector__Envelope *env, unsigned protocol, struct buf *out)
{
	size_t n;

	env->protocol = protocol;
	n = prospector__envelope__get_packed_size(env);
	prospector__envelope__pack(env, (uint8_t *)buf_room(out, n));
	out->len += n;
	out->data[out->len] = '\0';
}

static Prospector__Attr **wire_attrs_from(const struct obj *o, obj_attr_fn at, size_t n)
{
	Prospector__Attr **pa = n ? xcalloc(n, sizeof(*pa)) : NULL;

	for (size_t i = 0; i < n; i++) {
		struct attr a = at(o, i);

		pa[i] = xmalloc(sizeof(**pa));
		prospector__attr__init(pa[i]);
		pa[i]->name = xstrdup(a.name);
		pa[i]->value = xstrdup(a.value);
	}
	return pa;
}

/*
 * Everything built here is allocated with malloc, field by field, exactly as protobuf-c's default
 * allocator would have unpacked it, so protobuf-c's free_unpacked releases it.
 */
Prospector__Object *wire_object_from_obj(const struct obj *o)
{
	Prospector__Object *po = xmalloc(sizeof(*po));

	prospector__object__init(po);
	po->kind = (Prospector__ObjKind)o->kind;
	po->key = xstrdup(o->key);
	po->parent = o->parent ? xstrdup(o->parent) : NULL;
	po->name = xstrdup(o->name);
	po->path = obj_path_dup(o);
	if (!po->path)
		po->path = xstrdup("");
	po->attrs = wire_attrs_from(o, obj_attr, o->nattrs);
	po->n_attrs = o->nattrs;
	po->obs = wire_attrs_from(o, obj_ob, o->nobs);
	po->n_obs = o->nobs;
	po->hash.data = xmalloc(sizeof(o->hash));
	memcpy(po->hash.data, o->hash, sizeof(o->hash));
	po->hash.len = sizeof(o->hash);
	return po;
}

Prospector__ObsUpdate *wire_obs_update_from_obj(const struct obj *o)
{
	Prospector__ObsUpdate *pu = xmalloc(sizeof(*pu));

	prospector__obs_update__init(pu);
	pu->key = xstrdup(o->key);
	pu->obs = wire_attrs_from(o, obj_ob, o->nobs);
	pu->n_obs = o->nobs;
	return pu;
}

void wire_obs_update_free(Prospector__ObsUpdate *pu)
{
	if (pu)
		prospector__obs_update__free_unpacked(pu, NULL);
}

void wire_object_free(Prospector__Object *po)
{
	if (po)
		prospector__object__free_unpacked(po, NULL);
}

/*
 * Appends without obj_set's search for an existing name: that search made rebuilding an object of
 * n attributes O(n²), and one hostile 800 KB object of 65536 attributes held the collector for
 * over four seconds (found with tests/fuzz). Duplicate names are refused after sorting instead.
 */
static bool wire_attrs_append(struct obj *o, void (*append)(struct obj *, struct attr), Prospector__Attr *const *pa,
			      size_t pn)
{
	for (size_t i = 0; i < pn; i++) {
		if (!pa[i]->name || !pa[i]->value)
			return false;
		append(o, attr_make(pa[i]->name, SIZE_MAX, pa[i]->value, SIZE_MAX));
	}
	return true;
}

/* Both sides hash the same canonical encoding (obj_hash); a difference means they disagree on
 * content, and storing the object would make the catalog's root hash drift from the agent's. An
 * agent's object never repeats an attribute or observation name (obj_set replaces). */
int wire_obj_from_object(const Prospector__Object *po, struct obj **ret_o)
{
	struct obj *o;
	bool ok;

	if ((unsigned)po->kind >= OBJ_KIND_COUNT || !po->key || !po->name || po->hash.len != sizeof(o->hash) ||
	    po->n_attrs > OBJ_MAX_ATTRS || po->n_obs > OBJ_MAX_ATTRS)
		return WIRE_E_INVALID;
	o = obj_new((enum obj_kind)po->kind, po->key, po->parent, po->name);
	obj_set_path(o, xstrdup(po->path ? po->path : ""));
	ok = wire_attrs_append(o, obj_append, po->attrs, po->n_attrs) &&
	     wire_attrs_append(o, obj_append_obs, po->obs, po->n_obs);
	if (ok)
		ok = obj_sort_unique(o);
	if (ok) {
		obj_hash(o);
		ok = memcmp(o->hash, po->hash.data, sizeof(o->hash)) == 0;
	}
	if (!ok) {
		obj_free(o);
		return WIRE_E_INVALID;
	}
	*ret_o = o;
	return 0;
}

static Prospector__Row *wire_row_from(const struct change_row *cr)
{
	Prospector__Row *pr = xmalloc(sizeof(*pr));

	prospector__row__init(pr);
	pr->op = (Prospector__Op)cr->op;
	pr->field = cr->field ? xstrdup(cr->field) : NULL;
	pr->before = cr->before ? xstrdup(cr->before) : NULL;
	pr->after = cr->after ? xstrdup(cr->after) : NULL;
	pr->severity = (Prospector__Severity)cr->sev;
	pr->has_heuristic = cr->heuristic;
	pr->heuristic = cr->heuristic;
	return pr;
}

/* The rows' REFS values were already rendered as names by the diff; they travel as text. */
Prospector__Change *wire_change_from_change(const struct change *c)
{
	Prospector__Change *pc = xmalloc(sizeof(*pc));
	const struct obj *o = c->new ? c->new : c->old;

	prospector__change__init(pc);
	pc->op = (Prospector__Op)c->op;
	pc->key = xstrdup(o->key);
	pc->kind = (Prospector__ObjKind)o->kind;
	pc->path = xstrdup(c->path);
	pc->object = c->op == CHANGE_DROP ? NULL : wire_object_from_obj(c->new);
	if (c->old && c->new && strcmp(c->old->key, c->new->key) != 0)
		pc->old_key = xstrdup(c->old->key);
	pc->n_rows = c->nrows;
	pc->rows = c->nrows ? xcalloc(c->nrows, sizeof(*pc->rows)) : NULL;
	for (size_t i = 0; i < c->nrows; i++)
		pc->rows[i] = wire_row_from(&c->rows[i]);
	return pc;
}

void wire_change_free(Prospector__Change *pc)
{
	if (pc)
		prospector__change__free_unpacked(pc, NULL);
}
