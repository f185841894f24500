/* Secrets never leave in text: connection strings, URIs, quoted and braced values, and every
 * registered secret wherever it appears. */
#include <string.h>

#include "redact.h"
#include "tap.h"

static void check(const char *in, const char *want)
{
	char buf[512];

	strcpy(buf, in);
	redact_secrets(buf);
	is_str(buf, want, "redact: %s", want);
}

static void check_registered(void)
{
	redact_register("Tr0ub4dor&3");
	redact_register("Tr0ub4dor&3");
	redact_register("correct horse battery");
	redact_register("ab");
	redact_register(NULL);
	check("FATAL: Tr0ub4dor&3 rejected; Tr0ub4dor&3 again", "FATAL: *** rejected; *** again");
	check("Tr0ub4dor&3", "***");
	check("login failed: password=correct horse battery staple",
	      "login failed: password=*** staple");
	check("connect 'u:correct horse battery@db' failed", "connect 'u:***@db' failed");
	check("ab cd ab", "ab cd ab");
	check("Tr0ub4dor&", "Tr0ub4dor&");
	redact_forget_all();
	check("FATAL: Tr0ub4dor&3 rejected", "FATAL: Tr0ub4dor&3 rejected");
	redact_forget_all();
	redact_register("****");
	check("a **** b ******** c", "a *** b ****** c");
	redact_forget_all();
}

int main(void)
{
	check("host=db password=S3cret! user=x", "host=db password=*** user=x");
	check("PASSWORD = 'a b;c' dbname=hr", "PASSWORD = *** dbname=hr");
	check("DSN=hr;UID=u;PWD=hunter2;", "DSN=hr;UID=u;PWD=***;");
	check("postgresql://user:pa55@db:5432/hr", "postgresql://user:***@db:5432/hr");
	check("connection to server failed: FATAL: password authentication failed for user \"x\"",
	      "connection to server failed: FATAL: password authentication failed for user \"x\"");
	check("no secrets here", "no secrets here");
	check("secret=\"x\\\"y\" end", "secret=*** end");
	check("DSN=hr;PWD={a;b}}c d};UID=u", "DSN=hr;PWD=***;UID=u");
	check("Driver={x};Password={unclosed;UID=u", "Driver={x};Password=***");
	check("passwd: hunter22, user: x", "passwd: ***, user: x");
	check_registered();
	{
		char buf[128] = "FATAL: role x: S3cretPw rejected; S3cretPw again";

		redact_password(buf, "S3cretPw");
		is_str(buf, "FATAL: role x: ******** rejected; ******** again", "redact_password blanks every occurrence");
		strcpy(buf, "abc and abc");
		redact_password(buf, "abc");
		is_str(buf, "abc and abc", "passwords under four bytes are not searched for");
		redact_password(buf, NULL);
		is_str(buf, "abc and abc", "no password, nothing to do");
	}
	return done_testing();
}
