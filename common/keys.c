#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "conf.h"
#include "xmalloc.h"

#define KEY_FILE_MAX 4096

bool keys_z85_valid(const char *s)
{
	uint8_t raw[32];

	if (!s || strlen(s) != KEY_Z85_LEN)
		return false;
	return zmq_z85_decode(raw, s) != NULL;
}

int keys_generate(struct curve_key *k)
{
	memset(k, 0, sizeof(*k));
	return zmq_curve_keypair(k->public_key, k->secret_key) == 0 ? 0 : -errno;
}

void keys_wipe(struct curve_key *k)
{
	sodium_memzero(k->secret_key, sizeof(k->secret_key));
}

/* Creates path with mode, refusing to replace an existing file: a key pair that is overwritten by
 * mistake locks its agent out. */
static int keys_write_file(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), e;

	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(e), e == EEXIST ? " (remove it first to replace it)" : "");
		return -e;
	}
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		e = errno ? errno : EIO;
		close(fd);
		unlink(path);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

int keys_write(const char *base, const struct curve_key *k, const char *comment, char *err, size_t errlen)
{
	char *key_path = xasprintf("%s.key", base), *pub_path = xasprintf("%s.pub", base);
	char *secret = xasprintf("# Prospector CURVE key pair%s%s. Keep this file secret (mode 0600).\n"
				 "public-key = %s\nsecret-key = %s\n",
				 comment ? " of " : "", comment ? comment : "", k->public_key, k->secret_key);
	char *public = xasprintf("# Prospector CURVE public key%s%s.\npublic-key = %s\n", comment ? " of " : "",
				 comment ? comment : "", k->public_key);
	int r = keys_write_file(key_path, 0600, secret, err, errlen);

	if (r == 0) {
		r = keys_write_file(pub_path, 0644, public, err, errlen);
		if (r < 0)
			unlink(key_path);
	}
	sodium_memzero(secret, strlen(secret));
	free(secret);
	free(public);
	free(key_path);
	free(pub_path);
	return r;
}

/* The fields a key file may set. */
static const struct {
	const char *name;
	size_t offset;
} key_fields[] = {
	{ "public-key", offsetof(struct curve_key, public_key) },
	{ "secret-key", offsetof(struct curve_key, secret_key) },
};

static int keys_parse_line(const char *path, unsigned lineno, char *line, struct curve_key *k, char *err,
			   size_t errlen)
{
	char *eq = strchr(line, '='), *name, *value;

	line = conf_trim(line);
	if (!*line || *line == '#')
		return 0;
	if (!eq) {
		snprintf(err, errlen, "%s:%u: expected 'public-key = …' or 'secret-key = …'", path, lineno);
		return -EINVAL;
	}
	*eq = '\0';
	name = conf_trim(line);
	value = conf_trim(eq + 1);
	for (size_t i = 0; i < sizeof(key_fields) / sizeof(key_fields[0]); i++) {
		if (strcmp(name, key_fields[i].name) != 0)
			continue;
		if (!keys_z85_valid(value)) {
			snprintf(err, errlen, "%s:%u: %s: not a key (40 characters of Z85)", path, lineno, name);
			return -EINVAL;
		}
		memcpy((char *)k + key_fields[i].offset, value, KEY_Z85_LEN + 1);
		return 0;
	}
	snprintf(err, errlen, "%s:%u: unknown field '%s'", path, lineno, name);
	return -EINVAL;
}

/* Reads and parses a key file; *ret_mode is its permission bits. */
static int keys_read(const char *path, struct curve_key *k, mode_t *ret_mode, char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1], *line, *save = NULL;
	unsigned lineno = 0;
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	memset(k, 0, sizeof(*k));
	if (fd < 0 || fstat(fd, &sb) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret_mode = sb.st_mode & 07777;
	n = S_ISREG(sb.st_mode) ? read(fd, buf, KEY_FILE_MAX) : -1;
	close(fd);
	if (n < 0 || n == KEY_FILE_MAX) {
		snprintf(err, errlen, "%s: not a key file", path);
		return -EINVAL;
	}
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save))
		r = keys_parse_line(path, ++lineno, line, k, err, errlen);
	sodium_memzero(buf, sizeof(buf));
	if (r == 0 && !k->public_key[0]) {
		snprintf(err, errlen, "%s: no public-key line", path);
		r = -EINVAL;
	}
	return r;
}

int keys_load_secret(const char *path, struct curve_key *k, char *err, size_t errlen)
{
	mode_t mode = 0;
	int r = keys_read(path, k, &mode, err, errlen);

	if (r == 0 && !k->secret_key[0]) {
		snprintf(err, errlen, "%s: no secret-key line (is this the .pub file?)", path);
		r = -EINVAL;
	}
	if (r == 0 && (mode & 077)) {
		snprintf(err, errlen, "%s: mode %04o: group or others may read this secret key; chmod 600 it", path,
			 (unsigned)mode);
		r = -EPERM;
	}
	if (r < 0)
		keys_wipe(k);
	return r;
}

int keys_load_public(const char *path_or_key, char out[KEY_Z85_LEN + 1], char *err, size_t errlen)
{
	struct curve_key k;
	mode_t mode;
	int r;

	if (keys_z85_valid(path_or_key)) {
		memcpy(out, path_or_key, KEY_Z85_LEN + 1);
		return 0;
	}
	r = keys_read(path_or_key, &k, &mode, err, errlen);
	if (r == 0)
		memcpy(out, k.public_key, KEY_Z85_LEN + 1);
	keys_wipe(&k);
	return r;
}
