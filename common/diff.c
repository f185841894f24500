#include "diff.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

/* Type parameters compared to decide whether a type change widens (ADDITIVE) or narrows (BREAKING).
 * Absent means unlimited, so going from absent to a value narrows. */
static const char *const type_params[] = { "length", "precision", "scale" };

static const char *const op_names[] = {
	[CHANGE_ADD] = "ADD",
	[CHANGE_DROP] = "DROP",
	[CHANGE_ALTER] = "ALTER",
	[CHANGE_RENAME] = "RENAME",
};

const char *change_op_name(enum change_op op)
{
	return (unsigned)op <= CHANGE_RENAME ? op_names[op] : "?";
}

int change_op_lookup(const char *name)
{
	for (int op = CHANGE_ADD; op <= CHANGE_RENAME; op++)
		if (strcasecmp(op_names[op], name) == 0)
			return op;
	return -1;
}

struct diff *diff_new(void)
{
	return xcalloc(1, sizeof(struct diff));
}

static void change_clear(struct change *c)
{
	for (size_t i = 0; i < c->nrows; i++) {
		free(c->rows[i].field);
		free(c->rows[i].before);
		free(c->rows[i].after);
	}
	free(c->rows);
	free(c->path);
}

void diff_free(struct diff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nchanges; i++)
		change_clear(&d->changes[i]);
	free(d->changes);
	free(d);
}

static struct change *diff_add_change(struct diff *d, enum change_op op, const struct obj *old,
				      const struct obj *new)
{
	struct change *c;

	xgrow(&d->changes, &d->cap, d->nchanges + 1, sizeof(*d->changes));
	c = &d->changes[d->nchanges++];
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->old = old;
	c->new = new;
	return c;
}

/* Takes ownership of before and after. */
static void change_add_row(struct change *c, enum change_op op, const char *field, char *before,
			   char *after, enum severity sev)
{
	struct change_row *r;

	xgrow(&c->rows, &c->rows_cap, c->nrows + 1, sizeof(*c->rows));
	r = &c->rows[c->nrows++];
	r->op = op;
	r->field = field ? xstrdup(field) : NULL;
	r->before = before;
	r->after = after;
	r->sev = sev;
	r->heuristic = false;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *diff_obj_summary(const struct obj *o, const struct snapshot *snap)
{
	struct buf b;

	buf_init(&b);
	buf_addc(&b, '{');
	for (size_t i = 0; i < o->nattrs; i++) {
		struct attr a = obj_attr(o, i);
		const struct attr_def *def = model_attr_def(o->kind, a.name);
		char *rendered = NULL;

		if (def && def->folded)
			continue;
		if (def && def->type == ATTR_REFS)
			rendered = snapshot_render_refs(snap, a.value);
		if (b.len > 1)
			buf_addc(&b, ',');
		buf_add_json_str(&b, a.name);
		buf_addc(&b, ':');
		buf_add_json_str(&b, rendered ? rendered : a.value);
		free(rendered);
	}
	buf_addc(&b, '}');
	return buf_steal(&b);
}

/* Whatever comes with a new parent (the columns and keys of a new table) breaks nobody; a new column
 * that existing INSERTs cannot satisfy, or a new constraint on an existing table, may. */
static enum severity diff_add_severity(const struct snapshot *old, const struct obj *o)
{
	if (o->parent && !snapshot_find(old, o->parent))
		return SEV_ADDITIVE;
	if (o->kind == OBJ_COLUMN && !obj_get(o, "nullable") && !obj_get(o, "default") &&
	    !obj_get(o, "identity") && !obj_get(o, "generated") && !obj_get(o, "auto_increment"))
		return SEV_BREAKING;
	return model_kind(o->kind)->add_sev;
}

static int param_cmp(const char *old, const char *new)
{
	if (!old && !new)
		return 0;
	if (!old)
		return -1; /* unlimited → limited */
	if (!new)
		return 1;
	long long a = strtoll(old, NULL, 10), b = strtoll(new, NULL, 10);

	return a < b ? 1 : a > b ? -1 : 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Widening within a family is ADDITIVE; anything else that changes the type breaks someone. */
static enum severity diff_type_severity(const struct obj *old, const struct obj *new)
{
	if (!str_eq(obj_get(old, "family"), obj_get(new, "family")) ||
	    !str_eq(obj_get(old, "unsigned"), obj_get(new, "unsigned")))
		return SEV_BREAKING;
	for (size_t i = 0; i < sizeof(type_params) / sizeof(type_params[0]); i++)
		if (param_cmp(obj_get(old, type_params[i]), obj_get(new, type_params[i])) < 0)
			return SEV_BREAKING;
	return SEV_ADDITIVE;
}

/* Losing a default, or gaining NOT NULL, breaks writers; the opposite only adds possibilities. */
static enum severity diff_attr_severity(const struct obj *old, const struct obj *new, const char *name,
					const char *before, const char *after)
{
	const struct attr_def *def = model_attr_def(new->kind, name);

	if (strcmp(name, "type") == 0 && new->kind == OBJ_COLUMN)
		return diff_type_severity(old, new);
	if (strcmp(name, "nullable") == 0)
		return after ? SEV_ADDITIVE : SEV_BREAKING;
	if (strcmp(name, "default") == 0 && before && !after)
		return SEV_BREAKING;
	return def ? def->sev : SEV_ADDITIVE;
}

static char *diff_render(const struct obj *o, const struct snapshot *snap, const char *name,
			 const char *value)
{
	const struct attr_def *def = model_attr_def(o->kind, name);

	if (!value)
		return NULL;
	if (def && def->type == ATTR_REFS)
		return snapshot_render_refs(snap, value);
	return xstrdup(value);
}

static void diff_attr(struct change *c, const struct snapshot *os, const struct snapshot *ns,
		      const char *name, const char *before, const char *after)
{
	const struct attr_def *def = model_attr_def(c->new->kind, name);
	char *b, *a;

	/* Folded parameters speak through "type", unless the type text itself did not change. */
	if (def && def->folded && !str_eq(obj_get(c->old, "type"), obj_get(c->new, "type")))
		return;
	b = diff_render(c->old, os, name, before);
	a = diff_render(c->new, ns, name, after);
	if (str_eq(a, b)) { /* REFS whose keys changed but render alike are still a change */
		free(a);
		free(b);
		b = dup_or_null(before);
		a = dup_or_null(after);
	}
	change_add_row(c, CHANGE_ALTER, name, b, a, diff_attr_severity(c->old, c->new, name, before, after));
}

/* Both attribute arrays are sorted by name (snapshot_finish), so this is a merge walk. */
static void diff_attrs(struct change *c, const struct snapshot *os, const struct snapshot *ns)
{
	const struct obj *o = c->old, *n = c->new;
	size_t i = 0, j = 0;

	while (i < o->nattrs || j < n->nattrs) {
		struct attr x = i < o->nattrs ? obj_attr(o, i) : (struct attr){ 0 };
		struct attr y = j < n->nattrs ? obj_attr(n, j) : (struct attr){ 0 };
		int cmp = i == o->nattrs ? 1 : j == n->nattrs ? -1 : strcmp(x.name, y.name);

		if (cmp < 0) {
			diff_attr(c, os, ns, x.name, x.value, NULL);
			i++;
		} else if (cmp > 0) {
			diff_attr(c, os, ns, y.name, NULL, y.value);
			j++;
		} else {
			if (strcmp(x.value, y.value) != 0)
				diff_attr(c, os, ns, y.name, x.value, y.value);
			i++;
			j++;
		}
	}
}

static char *parent_path(const struct snapshot *s, const char *key)
{
	const struct obj *p = key ? snapshot_find(s, key) : NULL;

	return p ? obj_path_dup(p) : dup_or_null(key);
}

static void diff_alter(struct diff *d, const struct snapshot *os, const struct snapshot *ns,
		       const struct obj *old, const struct obj *new)
{
	struct change *c = diff_add_change(d, CHANGE_ALTER, old, new);

	if (old->kind != new->kind) /* a table became a view under the same oid: report its kind */
		change_add_row(c, CHANGE_ALTER, "kind", xstrdup(model_kind(old->kind)->name),
			       xstrdup(model_kind(new->kind)->name), SEV_BREAKING);
	if (strcmp(old->name, new->name) != 0)
		change_add_row(c, CHANGE_RENAME, "name", xstrdup(old->name), xstrdup(new->name), SEV_BREAKING);
	if (!str_eq(old->parent, new->parent))
		change_add_row(c, CHANGE_ALTER, "parent", parent_path(os, old->parent),
			       parent_path(ns, new->parent), SEV_BREAKING);
	diff_attrs(c, os, ns);
}

static void diff_added(struct diff *d, const struct snapshot *os, const struct snapshot *ns, const struct obj *o)
{
	struct change *c = diff_add_change(d, CHANGE_ADD, NULL, o);

	change_add_row(c, CHANGE_ADD, NULL, NULL, diff_obj_summary(o, ns), diff_add_severity(os, o));
}

static void diff_dropped(struct diff *d, const struct snapshot *os, const struct obj *o)
{
	struct change *c = diff_add_change(d, CHANGE_DROP, o, NULL);

	change_add_row(c, CHANGE_DROP, NULL, diff_obj_summary(o, os), NULL, model_kind(o->kind)->drop_sev);
}

/* Columns that could be one column renamed compare equal: same table, same position, same type. */
static int rename_key_cmp(const struct obj *x, const struct obj *y)
{
	const char *kx[] = { x->parent, obj_get(x, "ordinal"), obj_get(x, "type") };
	const char *ky[] = { y->parent, obj_get(y, "ordinal"), obj_get(y, "type") };

	for (size_t i = 0; i < 3; i++) {
		int c = strcmp(kx[i] ? kx[i] : "", ky[i] ? ky[i] : "");

		if (c)
			return c;
	}
	return 0;
}

/* A column DROP or ADD, with the object that identifies it. */
struct rename_cand {
	const struct obj *o;
	size_t change;
	bool drop;
};

static int rename_cand_cmp(const void *a, const void *b)
{
	const struct rename_cand *x = a, *y = b;
	int c = rename_key_cmp(x->o, y->o);

	return c ? c : (int)x->drop - (int)y->drop;
}

static size_t rename_candidates(const struct diff *d, struct rename_cand **ret)
{
	struct rename_cand *cands = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < d->nchanges; i++) {
		const struct change *c = &d->changes[i];
		const struct obj *o = c->op == CHANGE_DROP ? c->old : c->op == CHANGE_ADD ? c->new : NULL;

		if (!o || o->kind != OBJ_COLUMN || !obj_get(o, "ordinal"))
			continue;
		xgrow(&cands, &cap, n + 1, sizeof(*cands));
		cands[n++] = (struct rename_cand){ o, i, c->op == CHANGE_DROP };
	}
	qsort(cands, n, sizeof(*cands), rename_cand_cmp);
	*ret = cands;
	return n;
}

static void diff_mark_heuristic(struct change *c)
{
	for (size_t i = 0; i < c->nrows; i++)
		if (c->rows[i].op == CHANGE_RENAME)
			c->rows[i].heuristic = true;
}

static void diff_compact(struct diff *d, const bool *gone)
{
	size_t kept = 0;

	for (size_t i = 0; i < d->nchanges; i++) {
		if (gone[i])
			change_clear(&d->changes[i]);
		else
			d->changes[kept++] = d->changes[i];
	}
	d->nchanges = kept;
}

/*
 * Without stable ids (MySQL keys by name), a renamed column looks like a DROP and an ADD. When, in
 * one table, exactly one column disappears and exactly one appears at the same position with the
 * same type, that is reported as a RENAME marked heuristic; anything less certain stays DROP + ADD.
 * With stable ids (PostgreSQL) a new column never takes a dropped one's position, so this never
 * fires there. Sorting the candidates keeps it O(n log n) for a mass drop.
 */
static void diff_pair_renames(struct diff *d, const struct snapshot *os, const struct snapshot *ns)
{
	struct rename_cand *c;
	size_t n = rename_candidates(d, &c), before = d->nchanges;
	bool *gone = xcalloc(before ? before : 1, sizeof(*gone));

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && rename_key_cmp(c[i].o, c[j].o) == 0)
			j++;
		/* exactly one ADD (sorted first) and one DROP under the same key */
		if (j - i == 2 && !c[i].drop && c[i + 1].drop) {
			gone[c[i].change] = gone[c[i + 1].change] = true;
			diff_alter(d, os, ns, c[i + 1].o, c[i].o);
			diff_mark_heuristic(&d->changes[d->nchanges - 1]);
		}
		i = j;
	}
	gone = xreallocarray(gone, d->nchanges ? d->nchanges : 1, sizeof(*gone));
	memset(gone + before, 0, (d->nchanges - before) * sizeof(*gone));
	diff_compact(d, gone);
	free(gone);
	free(c);
}

/* Separators rank below every other byte, '.' (columns) before '#' (keys, indexes) before '/'
 * (contained tables, partitions), so a parent comes right before its own children. */
static int path_rank(unsigned char c)
{
	return !c ? 0 : c == '.' ? 1 : c == '#' ? 2 : c == '/' ? 3 : c + 3;
}

static int change_path_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	const unsigned char *p = (const unsigned char *)x->path;
	const unsigned char *q = (const unsigned char *)y->path;

	while (*p && *p == *q) {
		p++;
		q++;
	}
	return path_rank(*p) - path_rank(*q);
}

struct diff *diff_snapshots(const struct snapshot *old, const struct snapshot *new)
{
	struct diff *d = diff_new();
	size_t on = old ? old->nobjs : 0, i = 0, j = 0;

	while (i < on || j < new->nobjs) {
		const struct obj *o = i < on ? old->objs[i] : NULL;
		const struct obj *n = j < new->nobjs ? new->objs[j] : NULL;
		int cmp = !o ? 1 : !n ? -1 : strcmp(o->key, n->key);

		if (cmp < 0) {
			diff_dropped(d, old, o);
			i++;
		} else if (cmp > 0) {
			diff_added(d, old, new, n);
			j++;
		} else {
			if (memcmp(o->hash, n->hash, sizeof(o->hash)) != 0)
				diff_alter(d, old, new, o, n);
			i++;
			j++;
		}
	}
	diff_pair_renames(d, old, new);
	for (size_t k = 0; k < d->nchanges; k++) {
		struct change *c = &d->changes[k];
		char *path = obj_path_dup(c->new ? c->new : c->old);

		c->path = path ? path : xstrdup("");
	}
	qsort(d->changes, d->nchanges, sizeof(*d->changes), change_path_cmp);
	return d;
}
