/*
 * libFuzzer target for the socks.conf parser and matcher: the input's
 * first 36 bytes are a request (command, destination, source), the rest
 * is the file.
 */
#define main socks4d_main
#include "../socks4d.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
address_from(const uint8_t *b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (b[0] & 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, b + 1, 16);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, b + 1, 4);
		s4->sin_port = (in_port_t)(b[5] << 8 | b[6]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[CONF_MAX + 1];
	char why[CONF_LINE_MAX + 128];
	struct sockaddr_storage dst, src;
	int r;

	if (size < 36)
		return 0;
	address_from(data + 1, &dst);
	address_from(data + 18, &src);
	size -= 35;
	if (size > CONF_MAX)
		size = CONF_MAX;
	memcpy(text, data + 35, size);
	text[size] = '\0';
	r = conf_allows(text, size, data[0] & 1 ? CMD_BIND : CMD_CONNECT, &dst, &src,
	    why, sizeof why);
	if (r < -1 || r > 1 || memchr(why, '\0', sizeof why) == NULL)
		abort();
	return 0;
}
