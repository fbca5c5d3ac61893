#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from real inputs: Stripe objects
of the API fixtures (shared/reference/stripe-openapi/fixtures3.json, when present), the plugins' manifests and
schemas, config/ihost.toml, Stripe-Signature headers made the way Stripe makes them, real HTTP requests.
Deterministic: re-running it rewrites the same files. Run from anywhere: python3 tests/fuzz/make_corpus.py

Targets that read their input with FuzzedDataProvider get seeds laid out as it reads them: strings from the
front (a backslash doubled, "\\x" ends one), integers from the back (first consumed = last byte)."""
import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
FIXTURES_CANDIDATES = [
    os.path.join(ROOT, "..", "shared", "reference", "stripe-openapi", "fixtures3.json"),
    "/work/shared/reference/stripe-openapi/fixtures3.json",
]


class Provider:
    """Builds bytes that LLVM's FuzzedDataProvider reads back as the given sequence of values."""

    def __init__(self):
        self.front = bytearray()
        self.back = []  # bytes in the order they are consumed (from the end)

    def string(self, text, max_length):
        raw = text.encode() if isinstance(text, str) else bytes(text)
        assert len(raw) <= max_length
        self.front += raw.replace(b"\\", b"\\\\")
        if len(raw) < max_length:
            self.front += b"\\x"
        return self

    def rest(self, text):
        self.front += text.encode() if isinstance(text, str) else bytes(text)
        return self

    def integral(self, value, lo, hi):
        span = hi - lo
        offset = value - lo
        assert 0 <= offset <= span
        n = 0
        while n * 8 < 64 and (span >> (n * 8)) > 0:
            n += 1
        for i in reversed(range(n)):
            self.back.append((offset >> (8 * i)) & 0xFF)
        return self

    def u8(self, value):
        return self.integral(value, 0, 255)

    def u16(self, value):
        return self.integral(value, 0, 65535)

    def i64(self, value):
        return self.integral(value, -(1 << 63), (1 << 63) - 1)

    def char(self, value):
        return self.integral(value, -128, 127)

    def bytes(self):
        return bytes(self.front) + bytes(reversed(self.back))


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def fixtures():
    for path in FIXTURES_CANDIDATES:
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)["resources"]
    sys.exit("make_corpus: fixtures3.json not found (shared/reference/stripe-openapi)")


def raw_literals(path):
    with open(os.path.join(ROOT, path)) as f:
        return re.findall(r'R"json\((.*?)\)json"', f.read(), re.S)


def manifests():
    example = raw_literals("plugins/example/example_plugin.cpp")[0]
    head, middle, tail = raw_literals("plugins/stripe_byok/stripe_byok_plugin.cpp")[:3]
    sync = raw_literals("plugins/stripe_common/src/sync_jobs.cpp")
    jobs, settings = sync[:2]
    byok = head + settings + middle + jobs + tail
    json.loads(example)
    json.loads(byok)
    return {"example": example, "stripe_byok": byok}


def stripe_header(secret, t, payload):
    sig = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def main():
    resources = fixtures()
    objects = {k: resources[k] for k in ["event", "invoice", "customer", "charge", "payment_intent",
                                         "subscription", "balance_transaction", "checkout.session", "price",
                                         "product"]}
    event = dict(resources["event"])
    event.update({"type": "invoice.paid", "data": {"object": resources["invoice"]}})
    compact_event = json.dumps(event, separators=(",", ":")).encode()
    # Files are overwritten, never removed: regression_* inputs found by fuzzing live beside the seeds.

    # text
    for i, s in enumerate(["0", "42", "-9223372036854775808", "9223372036854775807", "9223372036854775808",
                           "+1", " 12", "007", "-0", "1e3", "caf\u00e9 \u2603 \U0001F600", "\xff",
                           "Content-Type", " \t trimmed \r\n"]):
        write("text", f"seed{i:02d}", s.encode("latin-1") if s == "\xff" else s.encode())
    for i, b in enumerate([b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82", b"\xf0\x9f\x98\x80"]):
        write("text", f"utf8_{i}", b)

    # json_parse (byte 0: depth limit 1 + b % 64; '?' = 64)
    for name, obj in objects.items():
        write("json_parse", name.replace(".", "_"), b"?" + json.dumps(obj).encode())
    write("json_parse", "escapes", b'?{"a":"\\u00e9\\ud83d\\ude00\\n","b":[1,-0,1.5e-3,true,null],"c":{}}')
    write("json_parse", "depth64", b"?" + b"[" * 64 + b"]" * 64)
    write("json_parse", "depth65", b"?" + b"[" * 65 + b"]" * 65)
    write("json_parse", "shallow_limit", b'\x02{"a":{"b":{"c":1}}}')

    # records: what sync jobs send
    rows = []
    for name in ["customer", "invoice", "price", "product", "subscription"]:
        obj = resources[name]
        rows.append({"id": obj.get("id", name), "data": obj, "updated_at": obj.get("created", 1700000000)})
    write("records", "sync_page", json.dumps(rows))
    write("records", "one", '[{"id":"cus_1","data":{"id":"cus_1","email":"a@b.c"},"updated_at":1700000000}]')
    write("records", "escaped_id", '[{"id":"cus_\\u00e9\\n","updated_at":0,"data":{"k":[1,2,{"x":null}]}}]')
    write("records", "empty", "[]")
    write("records", "bad_type", '[{"id":7,"data":{},"updated_at":1}]')
    write("records", "fraction", '[{"id":"a","data":{},"updated_at":1.5}]')

    # sdk_json: host metadata as the host writes it
    write("sdk_json", "request", json.dumps({"method": "POST", "path": "/hooks", "query": {"a": "1"},
                                            "headers": {"content-type": "application/json",
                                                        "stripe-signature": "t=1,v1=abc"},
                                            "tenant": "ten_1", "remote_addr": "127.0.0.1"}))
    write("sdk_json", "http_meta", '{"status":200,"attempts":1,"headers":{"Content-Type":"application/json",'
                                   '"Request-Id":"req_123"},"idempotency_key":"ik_1"}')
    write("sdk_json", "event", compact_event)
    write("sdk_json", "unicode", '{"k\\u00e9y":"v\\ud83d\\ude00","n":-12,"f":1e5,"a":[1,[2]],"o":{"x":{}}}')

    # manifest
    for name, text in manifests().items():
        write("manifest", name, text)
    write("manifest", "minimal", '{"name":"ab","version":"0.0.1"}')

    # schema: byte 0 even -> fixed schema (b / 2) % 3, odd -> "schema\n--\ndocument"
    write("schema", "byok_config", b"\x00" + json.dumps({"api_base_url": "http://127.0.0.1:12111",
                                                          "timeout_ms": 5000, "catalog": [
            {"key": "pro", "name": "Pro", "amount": 2900, "currency": "usd", "interval": "month"}],
                                                          "sync_commit_rows": 1000}).encode())
    write("schema", "byok_bad", b"\x00" + b'{"timeout_ms":"fast","catalog":[{"key":1}],"api_base_url":"ftp://x"}')
    write("schema", "byok_connect", b"\x02" + b'{"secret_key":"sk_test_51Habcdefghabcd","publishable_key":"pk_test_1"}')
    write("schema", "example_connect", b"\x04" + b'{"api_key":"ex_12345678","extra":1}')
    write("schema", "example_connect_bad", b"\x04" + b'{"api_key":"ex_short_secret_value"}')
    for name, text in manifests().items():
        m = json.loads(text)
        write("schema", f"{name}_schema", b"\x01" + json.dumps(m["config_schema"]).encode() + b"\n--\n{}")
    write("schema", "nested", b'\x01{"type":"object","properties":{"a":{"type":"array","items":{"type":"string",'
                              b'"minLength":1,"maxLength":3,"pattern":"^[a-z]+$"},"minItems":1}},'
                              b'"additionalProperties":{"type":"integer","minimum":-5,"maximum":5}}'
                              b'\n--\n{"a":["ab","x"],"b":3,"c":9}')

    # config
    with open(os.path.join(ROOT, "config", "ihost.toml"), "rb") as f:
        toml = f.read()
    write("config", "ihost_toml", toml)
    write("config", "ihost_toml_env", toml + b"\n#ENV\nIHOST_SERVER__LISTEN=0.0.0.0:9000\n"
                                             b"IHOST_INTEGRATIONS__EXAMPLE__GREETING=hi\n"
                                             b"IHOST_INBOX__RETRY_SCHEDULE_S=[1, 2]\nIHOST_LOG__LEVEL=debug\n")
    write("config", "small", b'[server]\nlisten = "127.0.0.1:0"\n[integrations.example]\nplugin = "example"\n'
                             b'webhook_secret = "whsec_fuzz_secret_value"\ncatalog = [{amount = 1}]\n'
                             b'[integrations.example.jobs.sync]\nevery = "1h30m"\n')

    # http_request (byte 0 seeds the piece sizes)
    body = compact_event
    sig = stripe_header("whsec_test_secret", 1700000000, body)
    requests = {
        "healthz": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
        "webhook": b"POST /webhooks/stripe/ten_1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Stripe-Signature: " + sig.encode() + b"\r\nContent-Length: " + str(len(body)).encode() +
                   b"\r\n\r\n" + body,
        "chunked": b"POST /api/integrations/stripe/actions/ping HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   b"ihk_live_x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        "pipelined": b"GET /api/events?after=0&limit=10 HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\n"
                     b"Host: x\r\nConnection: close\r\n\r\n",
        "expect": b"PUT /api/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "query": b"GET /api/records/stripe/invoice?after=%FF&x=a+b&&=&q HTTP/1.0\r\n\r\n",
        "head": b"HEAD /admin HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n",
        "smuggle": b"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    }
    for name, raw in requests.items():
        write("http_request", name, b"\x07" + raw)

    # router: byte 0 even -> (method index (b >> 1) % 7: GET POST PUT PATCH DELETE HEAD OPTIONS, target),
    # odd -> "pattern\npath" with that method
    targets = {
        "records": (0, "/api/records/stripe/invoice?after=10&limit=5"),
        "plugin_route": (2, "/api/integrations/stripe/routes/a/b%2Fc?x=%C3%A9"),
        "webhook": (2, "/webhooks/stripe/ten_1"),
        "admin_asset": (0, "/admin/app.js"),
        "head": (10, "/api/events"),
        "bad_query": (0, "/api/events?%FF=1"),
        "bad_escape": (0, "/api/events?after=%2"),
        "unicode": (0, "/api/records/%C3%A9/x%20y"),
        "slashes": (8, "//api///integrations/stripe/"),
        "plus": (4, "/api/endpoints/ep_1?a+b=c+d&&=&e"),
    }
    for name, (method, target) in targets.items():
        write("router", name, bytes([method]) + target.encode())
    write("router", "pattern_rest", b"\x01/api/{id}/routes/{path...}\n/api/1/routes/a/b")
    write("router", "pattern_dup", b"\x03/a/{x}/{x}\n/a/1/2")

    # stripe_signature: mode 0 = template (\x01 sig, \x02 T, \x03 sig over the raw t text, \x04 wrong sig)
    def sig_seed(template, payload, t=1700000000, delta=10, tolerance=True):
        p = Provider().u8(0).u8(1 if tolerance else 0).integral(t, 0, 99999999999)
        p.integral(delta, -1000, 1000).string(payload, 256).rest(template)
        return p.bytes()

    payload = b'{"id":"evt_1","object":"event","type":"invoice.paid"}'
    write("stripe_signature", "canonical", sig_seed(b"t=\x02,v1=\x01", payload))
    write("stripe_signature", "rolling", sig_seed(b"t=\x02,v1=\x04,v1=\x01,v0=\x04", payload))
    write("stripe_signature", "spaces", sig_seed(b"t=\x02, v1=\x01", payload))
    write("stripe_signature", "leading_zero", sig_seed(b"t=0\x02,v1=\x03", payload))
    write("stripe_signature", "two_t", sig_seed(b"t=\x02,t=5,v1=\x01", payload))
    write("stripe_signature", "old", sig_seed(b"t=\x02,v1=\x01", payload, delta=999))
    write("stripe_signature", "scheme_only", sig_seed(b"v1=\x01", payload))

    def roundtrip_seed(secret, payload, t=1700000000, age=5, edit_at=3, kind=0, byte=ord("x")):
        p = Provider().u8(1).u8(1).string(secret, 64).integral(t, 0, 99999999999)
        p.integral(age, -1000, 1000).u16(edit_at).u8(kind).char(byte - 256 if byte > 127 else byte)
        return p.rest(payload).bytes()

    write("stripe_signature", "roundtrip", roundtrip_seed("whsec_test_secret", compact_event))
    write("stripe_signature", "roundtrip_insert", roundtrip_seed("whsec_x", payload, edit_at=0, kind=1, byte=32))

    # standard_webhooks: mode 0 base64/secret text, mode 1 bytes, mode 2 sign+verify
    write("standard_webhooks", "secret", Provider().u8(0).rest("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").bytes())
    write("standard_webhooks", "padding", Provider().u8(0).rest("QQ==").bytes())
    write("standard_webhooks", "bytes", Provider().u8(1).rest(bytes(range(40))).bytes())
    sw = Provider().u8(2).string(bytes(range(24)), 48).string("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", 40)
    sw.i64(1700000000).string("v1,bm90IGEgc2lnbmF0dXJl v1,", 200).rest(compact_event)
    write("standard_webhooks", "delivery", sw.bytes())

    # stripe_form: kind, key, value (+ int or bool)
    form = Provider()
    form.u8(3).string("amount", 32).string("", 64).i64(900)
    form.u8(4).string("auto_advance", 32).string("", 64).u8(0)
    form.u8(1).string("ihost_ref", 32).string("show 1&2=3", 64)
    form.u8(0).string("items[0][price]", 32).string("price_1", 64)
    form.u8(2).string("", 32).string("data.latest_charge", 64)
    write("stripe_form", "invoice", form.bytes())
    write("stripe_form", "unicode", Provider().u8(0).string("description", 32).string("caf\u00e9 \u2603 %", 64).bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
