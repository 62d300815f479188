/*
 * libFuzzer target for parse_request(): the input is what a client sent,
 * fed as read_request() sees it, one growing prefix at a time.
 */
#define main socks4d_main
#include "../socks4d.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	const char *why;
	int r = 0;

	if (size > REQ_MAX)
		size = REQ_MAX;
	for (size_t len = 1; len <= size && r == 0; len++) {
		memset(&req, 0xa5, sizeof req);
		r = parse_request(data, len, &req, &why);
		if (r == 1 && (req.len > len || req.len < 9 ||
		    strlen(req.userid) > FIELD_MAX || strlen(req.host) > FIELD_MAX))
			abort();
	}
	/* A request can never need more than the buffer read_request() has. */
	if (r == 0 && size == REQ_MAX)
		abort();
	return 0;
}
