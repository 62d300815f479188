/*
 * check.c - socks4d -t: check socks.conf and the users file, naming every
 * bad line; or, given a request, say what the firewall decides for it,
 * with the same code a live request goes through.
 * SPDX-License-Identifier: ISC
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "firewall.h"
#include "number.h"
#include "session.h"
#include "socks.h"
#include "text.h"
#include "users.h"

#define ERRORS_SHOWN	64	/* malformed lines named, at most */

static void
print_verdict(int permit, const char *why)
{
	printf("%s (%s)\n", permit ? "permit" : "reject", why);
}

/* One answer of socks4d -t: "permit (why)" or "reject (why)". */
static int
check_one(const struct ruleset *rules, const struct query *q)
{
	char buf[REASON_MAX];
	struct text t = TEXT(buf);
	int permit = conf_decide(rules, q, &t);

	print_verdict(permit, buf);
	return permit;
}

/* "port N: " or "ports N-M: ", before a range's verdict. */
static void
print_ports(unsigned first, unsigned last)
{
	if (last == first)
		printf("port %u: ", last);
	else
		printf("ports %u-%u: ", first, last);
}

/*
 * The answer for every port: one line if all ports get the same, else a
 * line for each range of ports the rules treat alike.
 */
static int
check_ports(const struct ruleset *rules, const struct query *q)
{
	static uint16_t bound[2 * RULES_MAX + 1];
	static char why[2][REASON_MAX];
	struct sockaddr_storage d = *q->dst;
	struct query at = *q;
	struct text t;
	int n = conf_port_bounds(rules, bound, 2 * RULES_MAX + 1);
	int i, first = 0, any = 0, verdict[2];

	for (i = 0; i <= n; i++) {
		if (i < n) {
			set_port(&d, bound[i]);
			t = (struct text)TEXT(why[i % 2]);
			at.dst = &d;
			verdict[i % 2] = conf_decide(rules, &at, &t);
			if (i == 0 || (verdict[i % 2] == verdict[(i - 1) % 2] &&
			    strcmp(why[0], why[1]) == 0))
				continue;
		}
		/* The range that began at bound[first] ends before bound[i]. */
		if (first == 0 && i == n) {
			print_verdict(verdict[0], why[0]);
			return verdict[0];
		}
		print_ports(bound[first], i < n ? bound[i] - 1U : 65535U);
		print_verdict(verdict[(i - 1) % 2], why[(i - 1) % 2]);
		any |= verdict[(i - 1) % 2];
		first = i;
	}
	return any;
}

/*
 * Started as root, a listener becomes RUN_AS_UID before its sessions open
 * the users file: can that user open it?  -1 (why says) if not, 1 if it
 * could not be asked.  Asked of a child that becomes that user and opens
 * it the way a session does.
 */
static int
open_as_run_as(const char *path, struct text *why)
{
	static const gid_t gid = RUN_AS_GID;
	char buf[PATH_MAX + 128];
	struct text t = TEXT(buf);
	ssize_t n;
	pid_t pid;
	int p[2], status, fd = -1;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		close(p[0]);
		if (setgroups(1, &gid) == -1 || setgid(RUN_AS_GID) == -1 ||
		    setuid(RUN_AS_UID) == -1) {
			add(&t, strerror(errno));
			(void)!write(p[1], buf, t.len);
			_exit(2);
		}
		if ((fd = conf_open(path, &t)) == -1)
			(void)!write(p[1], buf, t.len);
		_exit(fd == -1);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof buf - 1)) == -1 && errno == EINTR)
		continue;
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 2)
		return 1;
	if (WEXITSTATUS(status) == 0)
		return 0;
	add(why, buf);
	return -1;
}

/*
 * socks4d -t: the users file as a login reads it (users_open, conf_read,
 * users_validate), or that there is none.  0 if it is good or absent, 1
 * if every login, or some, would fail.
 */
static int
check_users(const struct options *opt, const struct ruleset *rules)
{
	static char text[CONF_MAX + 1];
	char buf[2 * PATH_MAX + 256];
	struct text t = TEXT(buf);
	struct users_file u;
	size_t len;
	int n, bad, line;

	users_open(opt, &u);
	if (!u.present && opt->users_path != NULL) {
		users_why(&u, &t);
		fprintf(stderr, "socks4d: -u: %s: SOCKS5 clients would get no "
		    "login\n", buf);
		return 1;
	}
	if (!u.present) {
		users_describe(&u, &t);
		printf("%s\n", buf);
		if ((line = conf_users_line(rules)) != 0)
			fprintf(stderr, "socks4d: warning: %s:%d: 'user' never "
			    "matches without a users file\n", rules->path,
			    line);
		return 0;
	}
	if (u.fd == -1) {
		fprintf(stderr, "socks4d: %s: every SOCKS5 login fails\n",
		    u.error);
		return 1;
	}
	if (conf_read(u.fd, u.path, text, &len, &t) == -1) {
		fprintf(stderr, "socks4d: %s\n", buf);
		return 1;
	}
	n = users_validate(text, len, u.path, buf, sizeof buf);
	if (n == USERS_MALFORMED) {
		fprintf(stderr, "%s\n%s: every SOCKS5 login fails until "
		    "fixed\n", buf, u.path);
		return 1;
	}
	if ((bad = users_unverifiable(text, len, u.path, buf,
	    sizeof buf)) > 0) {
		fprintf(stderr, "%s\n", buf);
		if (bad > 1)
			fprintf(stderr, "%s: %d more such lines\n", u.path,
			    bad - 1);
		return 1;
	}
	t.len = 0;
	if (geteuid() == 0 && open_as_run_as(u.path, &t) == -1) {
		fprintf(stderr, "socks4d: %s, as uid %d gid %d, whom root "
		    "becomes: a listener (-l) started as root fails every "
		    "SOCKS5 login\n", buf, RUN_AS_UID, RUN_AS_GID);
		return 1;
	}
	printf("%s: %d user%s, OK\n", u.path, n, n == 1 ? "" : "s");
	return 0;
}

/* socks.conf read and parsed into rules: -1 (said why) if it is bad. */
static int
check_rules(const char *path, struct ruleset *rules)
{
	struct conf_error errs[ERRORS_SHOWN];
	char buf[PATH_MAX + 2 * REASON_MAX];
	struct text t = TEXT(buf);
	int fd, bad;

	if ((fd = conf_open(path, &t)) == -1 ||
	    (bad = rules_read(path, fd, rules, errs, ERRORS_SHOWN, &t)) == -1) {
		fprintf(stderr, "socks4d: %s\n", buf);
		return -1;
	}
	for (int i = 0; i < bad && i < ERRORS_SHOWN; i++) {
		t.len = 0;
		conf_error_text(rules, &errs[i], &t);
		fprintf(stderr, "%s\n", buf);
	}
	if (bad > ERRORS_SHOWN)
		fprintf(stderr, "%s: %d more malformed lines\n", path,
		    bad - ERRORS_SHOWN);
	if (bad > 0)
		fprintf(stderr, "%s: rejects every request until fixed\n",
		    path);
	return bad > 0 ? -1 : 0;
}

/* The command of a question: c, b or u; 0 if it is none of them. */
static int
check_command(const char *arg)
{
	if (strcmp(arg, "c") == 0)
		return SOCKS_CONNECT;
	if (strcmp(arg, "b") == 0)
		return SOCKS_BIND;
	if (strcmp(arg, "u") == 0)
		return SOCKS_UDP_ASSOCIATE;
	return 0;
}

/* What a question must look like, after what is wrong with it. */
#define QUESTION	": c|b|u ADDRESS [PORT [SOURCE [USER]]]"

/*
 * The question's command, port and source: 0, or -1 (why says what is
 * wrong) for a usage error.
 */
static int
check_question(int argc, char *argv[], int *cmd, long *port,
    struct sockaddr_storage *src, struct text *why)
{
	char buf[64];
	struct text t = TEXT(buf);
	const char *arg = argv[0], *what = NULL;

	if ((*cmd = check_command(argv[0])) == 0)
		what = "is not c, b or u";
	else if (argc < 2)
		what = "needs an address" QUESTION;
	else if (argc > 5) {
		arg = argv[5];
		what = "is one argument too many" QUESTION;
	} else if (argc > 2 && (*port = number_in(argv[2], 0, 65535,
	    &t)) == -1) {
		add(why, "port ");
		arg = argv[2];
		what = buf;
	} else if (argc > 3 && address_of(argv[3], 0, src) == -1) {
		add(why, "source ");
		arg = argv[3];
		what = "is not a numeric address";
	}
	if (what == NULL)
		return 0;
	add(why, "'");
	add(why, arg);
	add(why, "' ");
	add(why, what);
	return -1;
}

/*
 * The question's addresses: ADDRESS itself, or what the name resolves to
 * (q->name set then).  0 if there are none; then a name the rules deny
 * before its lookup, as a live request's would be, has had its verdict.
 */
static int
check_addresses(const struct ruleset *rules, struct query *q,
    const char *host, long port, struct sockaddr_storage *out)
{
	char buf[REASON_MAX];
	struct text t = TEXT(buf);
	int n;

	if (address_of(host, (uint16_t)port, out) == 0)
		return 1;
	q->name = host;
	if (port > 0 && !conf_may_name(rules, q, (uint16_t)port, &t)) {
		print_verdict(0, buf);
		return 0;
	}
	if ((n = lookup(host, (uint16_t)port, out, ADDRS_MAX)) == 0)
		fprintf(stderr, "socks4d: cannot resolve %s\n", host);
	return n;
}

/*
 * socks4d -t [c|b|u ADDRESS [PORT [SOURCE [USER]]]]: 0 if the files are
 * good (and the request is permitted), 1 if not, -1 for a usage error
 * (why says what is wrong).  A name is asked as a request by name: name
 * rules, then each address it resolves to.
 */
int
check_config(const struct options *opt, int argc, char *argv[],
    struct text *why)
{
	static struct ruleset rules;
	struct sockaddr_storage dst[ADDRS_MAX], src = { 0 };
	char buf[INET6_ADDRSTRLEN + 8];
	struct text t = TEXT(buf);
	struct query q = { .src = &src, .user = argc > 4 ? argv[4] : NULL };
	long port = 0;
	int n, permitted = 0;

	/* Its verdicts and warnings in the order they are made. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 0 && check_question(argc, argv, &q.cmd, &port, &src,
	    why) == -1)
		return -1;
	if (check_rules(opt->conf_path, &rules) == -1)
		return 1;
	if (argc == 0) {
		printf("%s: %d rule%s, OK\n", opt->conf_path, rules.n,
		    rules.n == 1 ? "" : "s");
		return check_users(opt, &rules);
	}
	if (argc < 4 && conf_has_sources(&rules))
		fprintf(stderr, "socks4d: no source given: rules with 'from' "
		    "do not match\n");
	n = check_addresses(&rules, &q, argv[1], argc < 3 ? 0 : port, dst);
	for (int i = 0; i < n; i++) {
		t.len = 0;
		add_addr(&t, &dst[i]);
		if (n > 1)
			printf("%s: ", buf);
		q.dst = &dst[i];
		permitted |= argc < 3 ? check_ports(&rules, &q) :
		    check_one(&rules, &q);
	}
	return permitted ? 0 : 1;
}
