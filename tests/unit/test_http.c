/* The HTTP/1.1 response parser of the cloud-hypervisor client: complete, incomplete and hostile
 * responses. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "vm/http.h"

static int parse(const char *text, bool eof, nbx_http_response *r, char **body) {
        char *buf = strdup(text);
        int e = nbx_http_parse(buf, strlen(buf), eof, r);
        if (e == 0 && body)
                *body = strndup(buf + r->body_off, r->body_len);
        free(buf);
        return e;
}

static void test_content_length(void **state) {
        (void)state;
        nbx_http_response r;
        char *body = NULL;
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 2\r\n\r\n{}",
                               false, &r, &body),
                         0);
        assert_int_equal(r.status, 200);
        assert_string_equal(body, "{}");
        free(body);
        /* a body still arriving, and a connection closed too early */
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", false, &r, NULL),
                         -EAGAIN);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", true, &r, NULL),
                         -EPROTO);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Len", false, &r, NULL), -EAGAIN);
        assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", false, &r, &body), 0);
        assert_int_equal(r.status, 204);
        assert_string_equal(body, "");
        free(body);
}

static void test_chunked_and_eof(void **state) {
        (void)state;
        nbx_http_response r;
        char *body = NULL;
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\n\r\n",
                               false, &r, &body),
                         0);
        assert_string_equal(body, "Wikipedia ");
        free(body);
        assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi",
                               false, &r, NULL),
                         -EAGAIN);
        /* no length at all: the body is what came before the server closed */
        assert_int_equal(parse("HTTP/1.0 500 Boom\r\n\r\nit broke\n", false, &r, NULL), -EAGAIN);
        assert_int_equal(parse("HTTP/1.0 500 Boom\r\n\r\nit broke\n", true, &r, &body), 0);
        assert_int_equal(r.status, 500);
        assert_string_equal(body, "it broke\n");
        free(body);
}

/* What a neighbour of the guest might send: refused, never guessed at. */
static void test_refused(void **state) {
        (void)state;
        nbx_http_response r;
        static const char *const bad[] = {
                "HTTP/2 200 OK\r\n\r\n",
                "HTTP/1.1 2000 OK\r\n\r\n",
                "HTTP/1.1 099 Low\r\n\r\n",
                "ICY 200 OK\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                "3\r\n\r\n0\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int e = parse(bad[i], true, &r, NULL);
                if (e != -EPROTO)
                        fail_msg("case %zu: %d, expected -EPROTO", i, e);
        }
        assert_int_equal(
                parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", true, &r, NULL),
                -EMSGSIZE);
        char *big = malloc(NBX_HTTP_HEADERS_MAX + 64);
        memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
        memset(big + 20, 'a', NBX_HTTP_HEADERS_MAX + 20);
        big[NBX_HTTP_HEADERS_MAX + 40] = '\0';
        assert_int_equal(parse(big, false, &r, NULL), -EMSGSIZE);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_content_length),
                cmocka_unit_test(test_chunked_and_eof),
                cmocka_unit_test(test_refused),
        };
        return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
