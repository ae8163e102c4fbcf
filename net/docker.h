/* Internal to net/: the accept rules for nixbox TAPs in Docker's iptables(-nft) FORWARD policy
 * (the look-only check for doctor is nbx_net_docker_check in net.h).  Adding and removing use the
 * caller's netfilter socket: every netfilter socket closed after a ruleset change waits in the
 * kernel for the old ruleset to be freed (an RCU grace period), so a bring-up or teardown uses one
 * socket for all its nftables work. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../config/base/error.h"
#include "net.h"
#include "nft/wire.h"

/* nixbox's rules (found by their comment "nixbox") in one chain of table ip filter. */
typedef struct nbx_docker_rules {
        const char *chain; /* "DOCKER-USER" or "FORWARD" */
        uint64_t handles[8];
        size_t n;
} nbx_docker_rules;

/* Add to a batch of table ip filter: delete the rules in stale, then (add) put the pair
 * `iifname "nbx*" counter accept` and `oifname "nbx*" counter accept` at the head of the chain. */
int nbx_docker_batch(nbx_nft_batch *b, const nbx_docker_rules *stale, bool add, nbx_error **err);

/* When FORWARD drops: add the accept rules where they are missing (idempotent). */
int nbx_docker_ensure(nbx_nl *nl, nbx_error **err);
/* Remove them (when no nixbox slot is left); absent counts as removed. */
int nbx_docker_remove(nbx_nl *nl, nbx_error **err);
