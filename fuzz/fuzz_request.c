/*
 * libFuzzer target for socks4_parse(): the input is what a client sent,
 * fed as read_request() sees it, one growing prefix at a time.
 * SPDX-License-Identifier: ISC
 */
#include <stdlib.h>
#include <string.h>

#include "../socks4.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	const char *why;
	int r = 0;

	if (size > SOCKS4_REQUEST_MAX)
		size = SOCKS4_REQUEST_MAX;
	for (size_t len = 1; len <= size && r == 0; len++) {
		memset(&req, 0xa5, sizeof req);
		r = socks4_parse(data, len, &req, &why);
		if (r == 1 && (req.len > len || req.len < 9 ||
		    strlen(req.user) > FIELD_MAX ||
		    strlen(req.host) > FIELD_MAX))
			abort();
		if (r == -1 && why == NULL)
			abort();
	}
	/* A request can never need more than the buffer read_request() has. */
	if (r == 0 && size == SOCKS4_REQUEST_MAX)
		abort();
	return 0;
}
