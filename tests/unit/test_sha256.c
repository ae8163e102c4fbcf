#include "support/testutil.h"

#include <string.h>

#include "config/base/sha256.h"

/* FIPS 180-4 / NIST CAVS examples */
static void test_known_vectors(void **state) {
        (void)state;
        char hex[NBX_SHA256_HEX];
        nbx_sha256_hex("", 0, hex);
        assert_string_equal(hex,
                            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        nbx_sha256_hex("abc", 3, hex);
        assert_string_equal(hex,
                            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        nbx_sha256_hex(two, strlen(two), hex);
        assert_string_equal(hex,
                            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* a million 'a' fed in uneven pieces: the streaming interface equals one-shot */
static void test_streaming_million_a(void **state) {
        (void)state;
        static char chunk[997];
        memset(chunk, 'a', sizeof(chunk));
        nbx_sha256 s;
        nbx_sha256_init(&s);
        size_t left = 1000000;
        while (left) {
                size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
                nbx_sha256_update(&s, chunk, n);
                left -= n;
        }
        uint8_t d[NBX_SHA256_LEN];
        nbx_sha256_final(&s, d);
        char hex[NBX_SHA256_HEX];
        nbx_sha256_to_hex(d, hex);
        assert_string_equal(hex,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* lengths around the padding boundary (55, 56, 63, 64 bytes) agree with split updates */
static void test_padding_boundaries(void **state) {
        (void)state;
        char buf[130];
        memset(buf, 'x', sizeof(buf));
        for (size_t len = 50; len < sizeof(buf); len++) {
                char one[NBX_SHA256_HEX], two[NBX_SHA256_HEX];
                nbx_sha256_hex(buf, len, one);
                nbx_sha256 s;
                uint8_t d[NBX_SHA256_LEN];
                nbx_sha256_init(&s);
                nbx_sha256_update(&s, buf, len / 3);
                nbx_sha256_update(&s, buf + len / 3, len - len / 3);
                nbx_sha256_final(&s, d);
                nbx_sha256_to_hex(d, two);
                assert_string_equal(one, two);
        }
        char hex[NBX_SHA256_HEX];
        nbx_sha256_hex(buf, 64, hex); /* one full block of 'x', by Python's hashlib */
        assert_string_equal(hex,
                            "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_known_vectors),
                cmocka_unit_test(test_streaming_million_a),
                cmocka_unit_test(test_padding_boundaries),
        };
        return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
