/* netif.h - this machine's own names, for the Host check of a LAN bind and
 * the classroom's join URLs: the interface addresses (getifaddrs) and the
 * host name.
 */
#ifndef GANLIVE_NETIF_H
#define GANLIVE_NETIF_H

#include <stddef.h>

#define SRV_NETIF_MAX 16
#define SRV_NETIF_LEN 72

typedef struct {
    int n;
    char host[SRV_NETIF_MAX][SRV_NETIF_LEN];   /* as in a Host header: 192.0.2.2, [2001:db8::2] */
} srv_netif_list;

/* The machine's non-loopback IPv4 and global IPv6 addresses that are up,
 * IPv4 first. Returns how many (0 when none or getifaddrs failed). */
int srv_netif_addresses(srv_netif_list *out);
/* The host name (gethostname), "" when unknown. */
void srv_netif_hostname(char *out, size_t len);

/* 1 when addr is a numeric loopback address (127.0.0.0/8, ::1). */
int srv_netif_is_loopback(const char *addr);

#endif
