/* netif.c - interface addresses and host name (see netif.h).
 *
 * IP literals are safe names for the Host check: a DNS-rebinding page runs
 * under a name it controls, never under the machine's own address. IPv6
 * link-local addresses are left out: they only work with a zone ("%eth0"),
 * which browsers do not put in a Host header.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "netif.h"

static void add(srv_netif_list *out, const char *host) {
    for (int i = 0; i < out->n; i++)
        if (strcmp(out->host[i], host) == 0) return;
    if (out->n < SRV_NETIF_MAX) snprintf(out->host[out->n++], SRV_NETIF_LEN, "%s", host);
}

int srv_netif_is_loopback(const char *addr) {
    unsigned char a[16];
    if (inet_pton(AF_INET, addr, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};
        static const unsigned char v4map[12] = {[10] = 0xff, [11] = 0xff};
        return memcmp(a, one, 16) == 0 || (memcmp(a, v4map, 12) == 0 && a[12] == 127);
    }
    return 0;
}

int srv_netif_addresses(srv_netif_list *out) {
    struct ifaddrs *ifs = NULL;
    out->n = 0;
    if (getifaddrs(&ifs) != 0) return 0;
    for (int family = 0; family < 2; family++) {     /* IPv4 first, then IPv6 */
        for (const struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
            char text[INET6_ADDRSTRLEN], host[SRV_NETIF_LEN];
            if (family == 0 && i->ifa_addr->sa_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
                if (!inet_ntop(AF_INET, &a->sin_addr, text, sizeof text)) continue;
                snprintf(host, sizeof host, "%s", text);
            } else if (family == 1 && i->ifa_addr->sa_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)i->ifa_addr;
                if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) continue;
                if (!inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text)) continue;
                snprintf(host, sizeof host, "[%s]", text);
            } else {
                continue;
            }
            if (!srv_netif_is_loopback(text)) add(out, host);
        }
    }
    freeifaddrs(ifs);
    return out->n;
}

void srv_netif_hostname(char *out, size_t len) {
    if (len == 0) return;
    if (gethostname(out, len) != 0) out[0] = '\0';
    out[len - 1] = '\0';
}
