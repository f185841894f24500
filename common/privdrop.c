#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privdrop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	int e;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		e = errno ? errno : ENOENT;
		snprintf(err, errlen, "user '%s': %s", user, errno ? strerror(e) : "no such user");
		return -e;
	}
	if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "-u %s: only root can become another user", user);
		return -EPERM;
	}
	/* Groups first: after setuid there is no right left to change them. */
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot become user '%s': %s", user, strerror(e));
		return -e;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "became user '%s' but could still regain root; refusing to run", user);
		return -EPERM;
	}
	return 0;
}
