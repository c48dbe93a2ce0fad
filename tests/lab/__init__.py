"""A network lab of real software (nginx, squid, dnsmasq, iptables) in network namespaces."""
