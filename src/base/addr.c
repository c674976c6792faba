#include "addr.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define HOST_ADVICE "write an IP address like 127.0.0.1 or [::1]"

/* PORT 1..65535, decimal digits only. */
static int parse_port(const char *s, in_port_t *port, char **why)
{
	unsigned long v = 0;
	if (!*s) {
		*why = xstrdup("the port is missing; expected HOST:PORT like "
		               "127.0.0.1:8080");
		return -1;
	}
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9') {
			*why = xasprintf("port \"%s\" is not a number; expected 1..65535", s);
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v < 1 || v > 65535) {
		*why = xasprintf("port \"%s\" is out of range; expected 1..65535", s);
		return -1;
	}
	*port = htons((in_port_t)v);
	return 0;
}

/* HOST (brackets already removed when BRACKETED) into A's sockaddr. */
static int parse_host(const char *host, bool bracketed, in_port_t port,
                      struct addr *a, char **why)
{
	if (bracketed) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->sa;
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			*why = xasprintf("\"[%s]\" is not an IPv6 address%s", host,
			                 strchr(host, '%') ? " (zone ids are not supported)"
			                                   : "");
			return -1;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = port;
		a->family = AF_INET6;
		a->len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->sa;
	if (!*host) {
		*why = xstrdup("the host is missing; " HOST_ADVICE);
		return -1;
	}
	if (strchr(host, ':')) {
		*why = xstrdup("an IPv6 address goes in brackets, like [::1]:8080");
		return -1;
	}
	if (strcasecmp(host, "localhost") == 0) {
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
		if (strspn(host, "0123456789.") == strlen(host))
			*why = xasprintf("\"%s\" is not an IPv4 address; write four "
			                 "numbers 0..255 like 127.0.0.1", host);
		else
			*why = xasprintf("\"%s\" is a host name, and tend never resolves "
			                 "names (a lookup would block it); " HOST_ADVICE
			                 " (or localhost)", host);
		return -1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = port;
	a->family = AF_INET;
	a->len = sizeof(*s4);
	return 0;
}

int addr_parse_host_port(const char *hp, struct addr *a, char **why)
{
	*a = (struct addr){ 0 };
	size_t n = strlen(hp);
	if (n >= sizeof(a->text)) {
		*why = xstrdup("the address is too long");
		return -1;
	}
	memcpy(a->text, hp, n + 1);
	char host[sizeof(a->text)];
	const char *port;
	bool bracketed = hp[0] == '[';
	if (bracketed) {
		const char *end = strchr(hp, ']');
		if (!end) {
			*why = xstrdup("unterminated [ in the host; expected [IPV6]:PORT "
			               "like [::1]:8080");
			return -1;
		}
		if (end[1] != ':') {
			*why = xstrdup("expected [IPV6]:PORT like [::1]:8080");
			return -1;
		}
		memcpy(host, hp + 1, (size_t)(end - hp - 1));
		host[end - hp - 1] = 0;
		port = end + 2;
	} else {
		const char *colon = strrchr(hp, ':');
		if (!colon) {
			*why = xstrdup("expected HOST:PORT like 127.0.0.1:8080");
			return -1;
		}
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = 0;
		port = colon + 1;
	}
	in_port_t p;
	if (parse_port(port, &p, why) < 0 || parse_host(host, bracketed, p, a, why) < 0)
		return -1;
	return 0;
}

static int parse_unix(const char *path, struct addr *a, char **why)
{
	*a = (struct addr){ .family = AF_UNIX };
	size_t n = strlen(path);
	if (!n) {
		*why = xstrdup("the path is missing; expected unix:/absolute/path");
		return -1;
	}
	if (path[0] != '/') {
		*why = xasprintf("\"%s\" is not an absolute path; expected "
		                 "unix:/absolute/path", path);
		return -1;
	}
	if (n >= sizeof(a->text)) {
		*why = xasprintf("the path is longer than %zu bytes",
		                 sizeof(a->text) - 1);
		return -1;
	}
	memcpy(a->text, path, n + 1);
	struct sockaddr_un *su = (struct sockaddr_un *)&a->sa;
	if (n >= sizeof(su->sun_path)) {
		a->via_dir = true;   /* connect or bind through its directory */
		return 0;
	}
	su->sun_family = AF_UNIX;
	memcpy(su->sun_path, path, n + 1);
	a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int addr_parse(const char *s, struct addr *a, char **why)
{
	if (strncmp(s, "tcp:", 4) == 0)
		return addr_parse_host_port(s + 4, a, why);
	if (strncmp(s, "unix:", 5) == 0)
		return parse_unix(s + 5, a, why);
	*a = (struct addr){ 0 };
	*why = xstrdup("expected tcp:HOST:PORT or unix:PATH");
	return -1;
}

int addr_parse_http(const char *s, struct addr *a, char *path, size_t path_n,
                    char **why)
{
	*a = (struct addr){ 0 };
	if (strncmp(s, "http:", 5) != 0) {
		*why = xstrdup("expected http:HOST:PORT[/PATH] or http:unix:PATH");
		return -1;
	}
	s += 5;
	if (strncmp(s, "unix:", 5) == 0) {
		if (path_n <= strlen(ADDR_HTTP_PATH)) {
			*why = xstrdup("the path is too long");
			return -1;
		}
		memcpy(path, ADDR_HTTP_PATH, sizeof(ADDR_HTTP_PATH));
		return parse_unix(s + 5, a, why);
	}
	if (strncmp(s, "//", 2) == 0) {
		*why = xstrdup("write http:HOST:PORT[/PATH] without // (like "
		               "http:127.0.0.1:8080/mcp)");
		return -1;
	}
	const char *slash = strchr(s, '/');
	const char *p = slash ? slash : ADDR_HTTP_PATH;
	size_t n = strlen(p);
	if (n >= path_n) {
		*why = xstrdup("the URL path is too long");
		return -1;
	}
	for (const char *c = p; *c; c++)
		if (*c <= ' ' || *c >= 127 || strchr("?#%\\\"<>^`{|}", *c)) {
			*why = xasprintf("the URL path \"%s\" has a character a path "
			                 "cannot have (%c); write it like /mcp", p, *c);
			return -1;
		}
	char hp[sizeof(a->text)];
	size_t hn = slash ? (size_t)(slash - s) : strlen(s);
	if (hn >= sizeof(hp)) {
		*why = xstrdup("the address is too long");
		return -1;
	}
	memcpy(hp, s, hn);
	hp[hn] = 0;
	if (addr_parse_host_port(hp, a, why) < 0)
		return -1;
	memcpy(path, p, n + 1);
	return 0;
}

unsigned addr_port(const struct addr *a)
{
	if (a->family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
	if (a->family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
	return 0;
}

bool addr_is_local(const struct addr *a)
{
	if (a->family == AF_UNIX)
		return true;
	if (a->family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	}
	return false;
}

char *addr_http_url(const char *spec)
{
	const char *rest = spec + 5;   /* after "http:" */
	if (strncmp(rest, "unix:", 5) == 0)
		return NULL;
	return xasprintf("http://%s%s", rest, strchr(rest, '/') ? "" : ADDR_HTTP_PATH);
}
