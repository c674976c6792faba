/* addr — the endpoint addresses of tend.ini (listen, backend, health):
 * "tcp:HOST:PORT" and "unix:PATH", parsed into a sockaddr ready for
 * connect() or bind().  Pure: no system call, no I/O.
 *
 *   - HOST is an IPv4 literal (127.0.0.1), an IPv6 literal in brackets
 *     ([::1]) or "localhost" (127.0.0.1).  tend never resolves names: a DNS
 *     lookup would block the loop, so any other name is an error that says
 *     to write an IP address.  IPv6 zone ids ([fe80::1%eth0]) are refused.
 *   - PORT is a decimal number 1..65535.
 *   - PATH must be absolute (a relative path would depend on the daemon's
 *     working directory) and shorter than PATH_MAX.  A path longer than
 *     sun_path holds is kept all the same: VIA_DIR is set, SA stays unset,
 *     and whoever connects or binds reaches it through an open fd of its
 *     directory: paths_sockaddr(a->text, ...).
 */
#ifndef TEND_ADDR_H
#define TEND_ADDR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/socket.h>

struct addr {
	int family;                  /* AF_INET, AF_INET6, AF_UNIX */
	struct sockaddr_storage sa;  /* ready for connect()/bind() */
	socklen_t len;               /* of sa; 0 when VIA_DIR */
	bool via_dir;                /* AF_UNIX path longer than sun_path */
	char text[PATH_MAX];         /* as written after the prefix, for
	                                messages: "127.0.0.1:8080", "[::1]:80",
	                                "localhost:80"; AF_UNIX: the path */
};

/* Parses "tcp:HOST:PORT" or "unix:PATH" into A.  Returns 0, or -1 with *WHY
 * a malloc'd one-line reason without the value itself ("port \"0\" is out
 * of range; expected 1..65535"); the caller says where. */
int addr_parse(const char *s, struct addr *a, char **why);

/* Parses "HOST:PORT" without a prefix (the authority of http://). */
int addr_parse_host_port(const char *hp, struct addr *a, char **why);

/* An MCP endpoint over HTTP (listen = http:...): "http:HOST:PORT[/PATH]"
 * or "http:unix:PATH".  PATH (the URL path served; default ADDR_HTTP_PATH,
 * and always that one on a unix socket) goes to PATH (PATH_N bytes): it
 * starts with "/" and holds only the characters of a URL path (no query,
 * no fragment, no space or %).  Returns 0, or -1 with *WHY as addr_parse. */
#define ADDR_HTTP_PATH "/mcp"
int addr_parse_http(const char *s, struct addr *a, char *path, size_t path_n,
                    char **why);

/* The URL a client is given for SPEC, an http:HOST:PORT[/PATH] of
 * listen (the default path written out), malloc'd; NULL for http:unix:. */
char *addr_http_url(const char *spec);

/* A's TCP port (1..65535), or 0 for a unix socket. */
unsigned addr_port(const struct addr *a);

/* Is A a loopback address (127.0.0.0/8, ::1) or a unix socket? */
bool addr_is_local(const struct addr *a);

#endif
