"""Border-traffic simulator: scenario, traffic, radars, SDPS and their datagrams."""
