/* net/nft/ruleset.c without the kernel: the slot batches, decoded back with libnftnl, on kernels
 * with DESTROY (present = NULL) and without (present = what exists). */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <string.h>

#include "net/nft.h"
#include "net/nft/ruleset.h"
#include "support/nftbatch.h"

static nbx_slot_addr slot_addr(unsigned s) {
        nbx_slot_addr a = {.slot = s, .prefix_len = 30};
        snprintf(a.tap, sizeof(a.tap), "nbx%u", s);
        a.network.s_addr = htonl(0xac100000u + 4u * s * 256u);
        a.host_ip.s_addr = htonl(ntohl(a.network.s_addr) + 1);
        a.guest_ip.s_addr = htonl(ntohl(a.network.s_addr) + 2);
        const uint8_t mac[6] = {2, 0x6e, 0x62, 0x78, 0, (uint8_t)s};
        memcpy(a.mac, mac, 6);
        return a;
}

static void build_o(nbx_nft_batch *b, unsigned slot, enum nbx_net_mode mode, bool priv,
                    const nbx_nft_slot_opts *o, const nbx_nft_present *present) {
        static const uint16_t ports[] = {443, 80};
        nbx_slot_addr a = slot_addr(slot);
        nbx_net_policy p = {.mode = mode,
                            .ports = ports,
                            .n_ports = 2,
                            .allow_private = priv,
                            .owner_uid = 1000};
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch_start(b, NFPROTO_INET, NBX_NFT_TABLE);
        assert_int_equal(nbx_nft_batch_slot(b, &a, &p, o, present, &err), 0);
        assert_null(err);
        nbx_nft_batch_seal(b, 100, 0, false);
}

static void build_p(nbx_nft_batch *b, unsigned slot, enum nbx_net_mode mode, bool priv, bool fresh,
                    const nbx_nft_present *present) {
        /* an update (fresh = false) keeps the allow set, as a reload that removes no domain */
        build_o(b, slot, mode, priv, &(nbx_nft_slot_opts){.fresh = fresh, .keep_allowed = !fresh},
                present);
}

static void build(nbx_nft_batch *b, unsigned slot, enum nbx_net_mode mode, bool priv, bool fresh) {
        build_p(b, slot, mode, priv, fresh, NULL);
}

static const nbx_nft_slot_opts FRESH = {.fresh = true};

static void test_names(void **state) {
        (void)state;
        assert_string_equal(nbx_nft_slot_obj_name(7, NBX_NFT_ALLOW).s, "allow7");
        assert_string_equal(nbx_nft_slot_obj_name(63, NBX_NFT_REFUSE).s, "refuse63");
        assert_string_equal(nbx_nft_map_name(NBX_NFT_NAT_SRC), "nat_src");
        /* map keys: the TAP name padded to IFNAMSIZ, the guest address for nat_src */
        nbx_slot_addr a = slot_addr(5);
        char buf[IFNAMSIZ];
        uint32_t len;
        const char *k = nbx_nft_map_key(&a, NBX_NFT_IN_IF, buf, &len);
        assert_int_equal(len, IFNAMSIZ);
        assert_string_equal(k, "nbx5");
        assert_int_equal(k[IFNAMSIZ - 1], 0);
        assert_ptr_equal(nbx_nft_map_key(&a, NBX_NFT_NAT_SRC, buf, &len), &a.guest_ip.s_addr);
        assert_int_equal(len, 4);
}

static void test_batch_framing(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 3, NBX_NET_FILTERED, false, true);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "fwd3", &s);
        assert_int_equal(s.begin, 1);
        assert_int_equal(s.end, 1);
        assert_int_equal(s.msgs, b.n_msgs);
        assert_int_equal(s.acked, s.msgs - 2); /* every message but begin and end */
        assert_true(s.seq_contiguous);
        assert_true(s.all_family);
        assert_int_equal(b.first_seq, 100);
        assert_int_equal(b.last_seq, 100 + s.msgs - 1);
        assert_int_equal(s.per_type[NFT_MSG_NEWTABLE], 1);
        assert_int_equal(s.per_type[NFT_MSG_DELTABLE], 0);
        /* 5 base + 7 slot chains, each refilled (flushed) in the same batch; no guard unless
         * asked for */
        assert_int_equal(s.per_type[NFT_MSG_NEWCHAIN], 12);
        assert_int_equal(s.per_type[NFT_MSG_DELRULE], 12);
        assert_false(nbx_test_batch_has_chain(&s, NBX_NFT_GUARD));
        assert_true(nbx_test_batch_has_set(&s, "in_if") && nbx_test_batch_has_set(&s, "nat_src"));
        assert_true(nbx_test_batch_has_set(&s, "allow3") && nbx_test_batch_has_set(&s, "ports3"));
        /* counters are reset on a fresh add: destroyed and created again */
        assert_int_equal(s.per_type[NFT_MSG_NEWOBJ], 2);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYOBJ], 2);
        assert_true(nbx_test_batch_deletes(&s, "refused3") &&
                    nbx_test_batch_deletes(&s, "silent3"));
        /* 6 map elements + the ports + the slot interface names, and the allow set flushed
         * (fresh) */
        assert_int_equal(s.per_type[NFT_MSG_NEWSETELEM], 8);
        assert_int_equal(s.per_type[NFT_MSG_DELSETELEM], 2);
        assert_true(nbx_test_batch_has_set(&s, NBX_NFT_SLOT_IFS));
}

/* The allow set has a size; slot interfaces are the 64 names nbx0..nbx63, and every match of a
 * slot interface (catch-alls, other slots, masquerade) looks the name up in that set: no
 * prefix match that would catch another interface whose name starts with "nbx". */
static void test_slot_interfaces_are_a_set_of_names(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 3, NBX_NET_FILTERED, false, true);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "", &s);
        assert_int_equal(s.ifset_elems, NBX_SLOTS);
        assert_true(s.has_ifset_name[0] && s.has_ifset_name[NBX_SLOTS - 1]);
        assert_int_equal(s.ifprefix_cmps, 0);
        assert_int_equal(s.allow_size, NBX_NFT_ALLOW_MAX);
        /* prerouting, input, output: 1 catch-all each; forward: 2; fwd3 (other slots): 1;
         * nat3: 1 (inverted) */
        assert_int_equal(s.lookups_of_slot_ifs, 7);
        assert_int_equal(s.inverted_lookups, 1);
}

/* The guard (nixbox turned forwarding on): a chain of its own on the forward hook dropping what
 * neither enters nor leaves a slot interface. */
static void test_guard(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build_o(&b, 2, NBX_NET_OPEN, false, &(nbx_nft_slot_opts){.fresh = true, .guard = true},
                NULL);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, NBX_NFT_GUARD, &s);
        assert_true(nbx_test_batch_has_chain(&s, NBX_NFT_GUARD));
        assert_int_equal(s.rules_in_chain, 1);
        assert_int_equal(s.inverted_lookups, 3); /* iifname and oifname, and nat2's oifname */
        assert_int_equal(s.counter, 1);
}

/* out<s>: what this host's processes send to the guest — replies, the kernel's ICMP errors, and
 * new connections only of root and the owner. */
static void test_output_only_root_and_owner(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 4, NBX_NET_OPEN, false, true);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "out4", &s);
        assert_true(nbx_test_batch_has_chain(&s, "output"));
        /* established/related, ICMP 3, 11, 12, skuid 0, skuid 1000, goto refuse4 */
        assert_int_equal(s.rules_in_chain, 7);
        assert_int_equal(s.skuid_matches, 2);
        assert_true(s.skuid_root && s.skuid_1000);
        nbx_nft_batch_done(&b);
        nbx_slot_addr a = slot_addr(4);
        nbx_net_policy p = {.mode = NBX_NET_OPEN};
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch_start(&b, NFPROTO_INET, NBX_NFT_TABLE);
        assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), 0);
        nbx_nft_batch_seal(&b, 1, 0, false);
        nbx_test_batch_decode(&b, "out4", &s);
        assert_int_equal(s.skuid_matches, 1); /* no owner: root alone */
}

/* Metadata addresses stay refused with allowPrivate. */
static void test_metadata_always_refused(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 1, NBX_NET_OPEN, true, true);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "fwd1", &s);
        const char *const metadata[] = {"169.254.169.254", "100.100.100.200", "168.63.129.16"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(metadata); i++)
                assert_true(nbx_test_batch_refuses(&s, inet_addr(metadata[i])));
        /* allowPrivate: the LAN and the shared address space are reachable */
        assert_false(nbx_test_batch_refuses(&s, inet_addr("10.0.0.1")));
        assert_false(nbx_test_batch_refuses(&s, inet_addr("100.100.100.201")));
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_OPEN, false, true);
        nbx_test_batch_decode(&b, "fwd1", &s);
        assert_true(nbx_test_batch_refuses(&s, inet_addr("10.0.0.1")));
}

static void test_filtered_uses_allow_set_and_refreshes(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 5, NBX_NET_FILTERED, false, true);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "fwd5", &s);
        assert_int_equal(s.lookups_of_allow, 1);
        assert_int_equal(s.dynset, 1); /* update @allow5 { ip daddr } */
        assert_int_equal(s.masq, 1);
        assert_int_equal(s.reject, 2); /* refuse5: tcp reset + icmpx */
}

static void test_policy_selects_rules(void **state) {
        (void)state;
        nbx_test_batch open, open_priv, off, filtered;
        nbx_nft_batch b;
        build(&b, 1, NBX_NET_OPEN, false, true);
        nbx_test_batch_decode(&b, "fwd1", &open);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_OPEN, true, true);
        nbx_test_batch_decode(&b, "fwd1", &open_priv);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_OFF, false, true);
        nbx_test_batch_decode(&b, "fwd1", &off);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_FILTERED, false, false);
        nbx_test_batch_decode(&b, "fwd1", &filtered);
        nbx_nft_batch_done(&b);

        /* open: 6 private ranges refused unless allowPrivate; 0/8 127/8 224/4 240/4, link-local
         * and the metadata addresses always */
        assert_int_equal(open.rules_in_chain - open_priv.rules_in_chain, 6);
        assert_int_equal(open.dynset + open.lookups_of_allow, 0);
        /* off: established, non-IPv4 drop, refuse: nothing else */
        assert_int_equal(off.rules_in_chain, 3);
        assert_int_equal(off.masq, 0);
        assert_true(off.rules_in_chain < open_priv.rules_in_chain);
        /* filtered refuses private ranges too (DNS rebinding), and its update keeps the allow
         * set: only the ports set is flushed, and the counters are kept */
        assert_int_equal(filtered.rules_in_chain, open.rules_in_chain);
        assert_int_equal(filtered.per_type[NFT_MSG_DELSETELEM], 1);
        assert_int_equal(filtered.per_type[NFT_MSG_DESTROYOBJ], 0);
        assert_int_equal(filtered.n_dels, 0);
        /* a mode change away from filtered empties the allow set */
        build(&b, 1, NBX_NET_OPEN, false, false);
        nbx_test_batch_decode(&b, "fwd1", &open);
        nbx_nft_batch_done(&b);
        assert_int_equal(open.per_type[NFT_MSG_DELSETELEM], 2);
        /* so does a reload that removed a domain (keep_allowed false) */
        build_o(&b, 1, NBX_NET_FILTERED, false, &(nbx_nft_slot_opts){0}, NULL);
        nbx_test_batch_decode(&b, "fwd1", &filtered);
        nbx_nft_batch_done(&b);
        assert_int_equal(filtered.per_type[NFT_MSG_DELSETELEM], 2);
        assert_int_equal(filtered.per_type[NFT_MSG_DESTROYOBJ], 0);
}

static void test_allow_timeout_from_policy(void **state) {
        (void)state;
        nbx_slot_addr a = slot_addr(2);
        nbx_net_policy p = {.mode = NBX_NET_FILTERED, .allow_timeout_s = 3};
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, NBX_NFT_TABLE);
        assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), 0);
        nbx_nft_batch_seal(&b, 1, 0, false);
        /* find allow2's NEWSET and its timeout */
        uint64_t timeout = 0;
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b.buf;
        int len = (int)b.len;
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWSET || nlh->nlmsg_type >> 8 == 0)
                        continue;
                struct nftnl_set *s = nftnl_set_alloc();
                assert_int_equal(nftnl_set_nlmsg_parse(nlh, s), 0);
                if (!strcmp(nftnl_set_get_str(s, NFTNL_SET_NAME), "allow2")) {
                        timeout = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
                        assert_true(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_TIMEOUT);
                }
                nftnl_set_free(s);
        }
        assert_int_equal(timeout, 3000);
}

static void test_slots_do_not_share_objects(void **state) {
        (void)state;
        nbx_test_batch s;
        _cleanup_nft_batch_ nbx_nft_batch b;
        build(&b, 2, NBX_NET_OPEN, false, true);
        nbx_test_batch_decode(&b, "fwd9", &s);
        assert_int_equal(s.rules_in_chain, 0); /* nothing of slot 9 in slot 2's batch */
        assert_false(nbx_test_batch_has_set(&s, "allow9"));
}

static void del(nbx_nft_batch *b, unsigned slot, bool whole, const nbx_nft_present *present,
                nbx_test_batch *s) {
        nbx_slot_addr a = slot_addr(slot);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch_start(b, NFPROTO_INET, NBX_NFT_TABLE);
        assert_int_equal(nbx_nft_batch_slot_del(b, &a, whole, present, &err), 0);
        nbx_nft_batch_seal(b, 7, 42, false);
        nbx_test_batch_decode(b, "", s);
}

static void test_del_with_destroy(void **state) {
        (void)state;
        nbx_test_batch s;
        nbx_nft_batch b;
        del(&b, 4, false, NULL, &s);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYSETELEM], 6);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYCHAIN], 7);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYSET], 2);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYOBJ], 2);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYTABLE], 0);
        assert_int_equal(s.per_type[NFT_MSG_DELCHAIN] + s.per_type[NFT_MSG_DELSET], 0);
        /* the generation id rides on the batch begin message */
        assert_true(s.has_genid);
        assert_int_equal(s.genid, 42);
        nbx_nft_batch_done(&b);
        del(&b, 4, true, NULL, &s);
        assert_int_equal(s.msgs, 3);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYTABLE], 1);
        assert_true(nbx_test_batch_deletes(&s, "nixbox"));
        nbx_nft_batch_done(&b);
}

static void test_del_without_destroy_deletes_what_exists(void **state) {
        (void)state;
        nbx_test_batch s;
        nbx_nft_batch b;
        /* everything of slot 4 exists: the same deletions, as DEL */
        nbx_nft_present all = {.table = true,
                               .objs = (1u << NBX_NFT_SLOT_OBJS) - 1,
                               .maps = (1u << NBX_NFT_MAPS) - 1,
                               .elems = (1u << NBX_NFT_MAPS) - 1};
        del(&b, 4, false, &all, &s);
        assert_int_equal(s.per_type[NFT_MSG_DELSETELEM], 6);
        assert_int_equal(s.per_type[NFT_MSG_DELCHAIN], 7);
        assert_int_equal(s.per_type[NFT_MSG_DELSET], 2);
        assert_int_equal(s.per_type[NFT_MSG_DELOBJ], 2);
        for (unsigned t = NFT_MSG_DESTROYTABLE; t <= NFT_MSG_DESTROYOBJ; t++)
                assert_int_equal(s.per_type[t], 0);
        nbx_nft_batch_done(&b);

        /* half of it gone (an older version's leftovers, a manual `nft delete`): only the rest */
        nbx_nft_present half = {.table = true};
        nbx_nft_present_mark(&half, 4, NBX_NFT_CHAIN, "fwd4");
        nbx_nft_present_mark(&half, 4, NBX_NFT_CHAIN, "refuse4");
        nbx_nft_present_mark(&half, 4, NBX_NFT_CHAIN, "fwd5"); /* another slot's: ignored */
        nbx_nft_present_mark(&half, 4, NBX_NFT_SET, "allow4");
        nbx_nft_present_mark(&half, 4, NBX_NFT_OBJ, "allow4"); /* a set name, not a counter */
        nbx_nft_present_mark(&half, 4, NBX_NFT_OBJ, "silent4");
        nbx_nft_present_mark(&half, 4, NBX_NFT_SET, "in_if");
        half.elems = 1u << NBX_NFT_IN_IF;
        assert_int_equal(half.maps, 1u << NBX_NFT_IN_IF);
        del(&b, 4, false, &half, &s);
        assert_int_equal(s.n_dels, 5);
        assert_true(nbx_test_batch_deletes(&s, "in_if"));
        assert_true(nbx_test_batch_deletes(&s, "fwd4"));
        assert_true(nbx_test_batch_deletes(&s, "refuse4"));
        assert_true(nbx_test_batch_deletes(&s, "allow4"));
        assert_true(nbx_test_batch_deletes(&s, "silent4"));
        assert_false(nbx_test_batch_deletes(&s, "fwd5"));
        nbx_nft_batch_done(&b);

        /* the last slot: the table; no table: nothing at all */
        del(&b, 4, true, &half, &s);
        assert_int_equal(s.per_type[NFT_MSG_DELTABLE], 1);
        assert_int_equal(s.msgs, 3);
        nbx_nft_batch_done(&b);
        nbx_nft_present none = {0};
        del(&b, 4, true, &none, &s);
        assert_int_equal(s.msgs, 2); /* begin and end only: nothing to send */
        nbx_nft_batch_done(&b);
}

static void test_fresh_add_without_destroy(void **state) {
        (void)state;
        nbx_test_batch s;
        nbx_nft_batch b;
        /* counters that exist are deleted before they are created again; absent ones are not */
        nbx_nft_present p = {.table = true};
        nbx_nft_present_mark(&p, 6, NBX_NFT_OBJ, "refused6");
        build_p(&b, 6, NBX_NET_FILTERED, false, true, &p);
        nbx_test_batch_decode(&b, "", &s);
        assert_int_equal(s.per_type[NFT_MSG_DELOBJ], 1);
        assert_true(nbx_test_batch_deletes(&s, "refused6"));
        assert_int_equal(s.per_type[NFT_MSG_DESTROYOBJ], 0);
        assert_int_equal(s.per_type[NFT_MSG_NEWOBJ], 2);
        nbx_nft_batch_done(&b);
}

static void test_rejects_bad_input(void **state) {
        (void)state;
        nbx_nft_batch b;
        nbx_net_policy p = {.mode = NBX_NET_OPEN};
        nbx_slot_addr a = slot_addr(64);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch_start(&b, NFPROTO_INET, NBX_NFT_TABLE);
        assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), -ERANGE);
        nbx_error_free(err);
        err = NULL;
        const char *taps[] = {"eth0", "nbx2", "nbx1x", "nbx"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(taps); i++) {
                a = slot_addr(1);
                snprintf(a.tap, sizeof(a.tap), "%s", taps[i]);
                assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), -EINVAL);
                assert_non_null(strstr(err->msg, "is not slot 1's TAP"));
                nbx_error_free(err);
                err = NULL;
                assert_int_equal(nbx_nft_batch_slot_del(&b, &a, false, NULL, &err), -EINVAL);
                nbx_error_free(err);
                err = NULL;
        }
        a = slot_addr(1);
        uint16_t zero = 0;
        p = (nbx_net_policy){.mode = NBX_NET_FILTERED, .ports = &zero, .n_ports = 1};
        assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), -EINVAL);
        nbx_error_free(err);
        err = NULL;
        p = (nbx_net_policy){.mode = (enum nbx_net_mode)7};
        assert_int_equal(nbx_nft_batch_slot(&b, &a, &p, &FRESH, NULL, &err), -EINVAL);
        assert_int_equal(nbx_nft_batch_changes(&b), 0); /* nothing was added */
        nbx_nft_batch_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_batch_framing),
                cmocka_unit_test(test_filtered_uses_allow_set_and_refreshes),
                cmocka_unit_test(test_slot_interfaces_are_a_set_of_names),
                cmocka_unit_test(test_guard),
                cmocka_unit_test(test_output_only_root_and_owner),
                cmocka_unit_test(test_metadata_always_refused),
                cmocka_unit_test(test_policy_selects_rules),
                cmocka_unit_test(test_allow_timeout_from_policy),
                cmocka_unit_test(test_slots_do_not_share_objects),
                cmocka_unit_test(test_del_with_destroy),
                cmocka_unit_test(test_del_without_destroy_deletes_what_exists),
                cmocka_unit_test(test_fresh_add_without_destroy),
                cmocka_unit_test(test_rejects_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
