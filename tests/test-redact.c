/* Secrets never leave in text: connection strings, URIs, quoted values. */
#include <string.h>

#include "redact.h"
#include "tap.h"

static void check(const char *in, const char *want)
{
	char buf[512];

	strcpy(buf, in);
	redact_secrets(buf);
	is_str(buf, want, "redact: %s", in);
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
	return done_testing();
}
