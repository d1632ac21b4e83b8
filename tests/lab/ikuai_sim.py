#!/usr/bin/env python3
"""An iKuai router's web API, as the public clients use it (../../docs/ikuai.md), for the lab.

It answers one API version (3.x: /Action/login and /Action/call; 4.x: /api/v4.0/network/dnat/rules),
checks requests as the router would (fields present, every value a string in 3.x, the session cookie
or the bearer token), holds the port mappings, and renders the enabled ones into this network
namespace's iptables (its own nat chain), so a packet really crosses.

State for the tests, rewritten after every request: STATE/status.json (login attempts, logins, write
calls, the rows). SIGUSR1 expires every 3.x session (the next call answers Result 10014). SIGUSR2
reads STATE/control.json: {"edit": {"id": ..., field: value}} changes a row behind the API's back,
{"fail_write": N} makes the Nth write call from now fail (Result 30001 / code 3001),
{"expire_after": N} expires every 3.x session just before the Nth /Action/call from now,
{"delay_write": N, "delay_seconds": S} holds the Nth write call from now for S seconds before it
lands (STATE/delay-started says when it began; other requests wait, as on a router that handles one
call at a time).

  ikuai_sim.py --version 3|4 --addr A --state DIR [--chain NAME] [--http-port P] [--https-port P --cert C --key K]
               [--user U --password P] [--token T] [--pass-variant plain|md5] [--seed JSON]
"""
import argparse, base64, hashlib, ipaddress, json, os, secrets, signal, socketserver, ssl, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler

LOCK = threading.Lock()
FIELDS = ["enabled", "comment", "interface", "lan_addr", "protocol", "wan_port", "lan_port", "src_addr"]


class Sim:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.next_id = 1
        self.sessions = set()
        self.status = {"login_attempts": 0, "logins": 0, "writes": 0, "calls": 0, "pass_variants": [], "refused_tokens": 0, "expired_answers": 0}
        self.fail_write = 0
        self.expire_after = 0
        self.delay_write = 0
        self.delay_seconds = 0
        if args.seed:
            for row in json.loads(args.seed):
                self.add(row)
        self.render()

    # --- the mappings -------------------------------------------------------------------------------
    def add(self, row):
        row = dict(row)
        row["id"] = self.next_id
        self.next_id += 1
        self.rows.append(row)
        return row["id"]

    def find(self, ident):
        for row in self.rows:
            if str(row["id"]) == str(ident):
                return row
        return None

    def check_row(self, row, ident=None):
        """The router's own checks: values it can use, ranges of equal length, no port taken twice."""
        for name in FIELDS:
            if name not in row:
                return "missing " + name
        if row["enabled"] not in ("yes", "no"):
            return "bad enabled"
        if row["protocol"] not in ("tcp", "udp", "tcp+udp"):
            return "bad protocol"
        try:
            ipaddress.IPv4Address(row["lan_addr"])
            wan, lan = ports(row["wan_port"]), ports(row["lan_port"])
            for src in sources(row):
                ipaddress.IPv4Network(src, strict=False)
        except ValueError as e:
            return "bad value: %s" % e
        if wan[1] - wan[0] != lan[1] - lan[0]:
            return "port ranges differ in length"
        if row["enabled"] == "yes":
            for other in self.rows:
                if str(other["id"]) == str(ident) or other["enabled"] != "yes":
                    continue
                o = ports(other["wan_port"])
                shared = row["protocol"] == other["protocol"] or "tcp+udp" in (row["protocol"], other["protocol"])
                if shared and o[0] <= wan[1] and wan[0] <= o[1]:
                    return "port %s already mapped (id %s)" % (row["wan_port"], other["id"])
        return None

    def write_fault(self):
        if self.delay_write > 0:
            self.delay_write -= 1
            if self.delay_write == 0:
                with open(os.path.join(self.args.state, "delay-started"), "w") as f:
                    f.write(str(self.status["writes"]))
                time.sleep(self.delay_seconds)
        if self.fail_write > 0:
            self.fail_write -= 1
            if self.fail_write == 0:
                return True
        return False

    def render(self):
        chain = self.args.chain
        if not chain:
            return  # --chain omitted: the unit tests' sim on the host's loopback renders nothing
        lines = ["*nat", ":%s - [0:0]" % chain]
        for row in self.rows:
            if row["enabled"] != "yes":
                continue
            wan, lan = ports(row["wan_port"]), ports(row["lan_port"])
            dport = str(wan[0]) if wan[0] == wan[1] else "%d:%d" % wan
            to = "%s:%d" % (row["lan_addr"], lan[0]) if wan[0] == wan[1] else "%s:%d-%d/%d" % (row["lan_addr"], lan[0], lan[1], wan[0])
            iface = "" if row["interface"] in ("all", "") else " -i " + row["interface"]
            for proto in row["protocol"].split("+"):
                for src in sources(row) or [None]:
                    s = " -s " + src if src else ""
                    lines.append("-A %s%s -p %s%s --dport %s -j DNAT --to-destination %s" % (chain, iface, proto, s, dport, to))
        lines.append("COMMIT")
        subprocess.run(["iptables-restore", "--noflush"], input="\n".join(lines) + "\n", text=True, check=True)
        jump = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", chain]
        if subprocess.run(["iptables", "-t", "nat", "-C", "PREROUTING"] + jump, capture_output=True).returncode != 0:
            subprocess.run(["iptables", "-t", "nat", "-I", "PREROUTING"] + jump, check=True)

    def save(self):
        self.status["rows"] = self.rows
        self.status["sessions"] = len(self.sessions)
        path = os.path.join(self.args.state, "status.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.status, f, ensure_ascii=False)
        os.replace(path + ".tmp", path)

    def control(self):
        with open(os.path.join(self.args.state, "control.json")) as f:
            command = json.load(f)
        with LOCK:
            if "edit" in command:
                row = self.find(command["edit"]["id"])
                row.update({k: v for k, v in command["edit"].items() if k != "id"})
            if "expire_after" in command:
                self.expire_after = int(command["expire_after"])
            if "fail_write" in command:
                self.fail_write = int(command["fail_write"])
            if "delay_write" in command:
                self.delay_write = int(command["delay_write"])
                self.delay_seconds = float(command.get("delay_seconds", 5))
            self.render()
            self.save()


def ports(text):
    parts = str(text).split("-")
    if len(parts) > 2 or not all(p.isdigit() for p in parts):
        raise ValueError("port " + repr(text))
    a, b = int(parts[0]), int(parts[-1])
    if not (1 <= a <= b <= 65535):
        raise ValueError("port " + repr(text))
    return a, b


def sources(row):
    src = row.get("src_addr", "")
    if isinstance(src, dict):
        return list(src.get("custom", []))
    return [s for s in str(src).split(",") if s]


def every_value_a_string(value):
    if isinstance(value, dict):
        return all(every_value_a_string(v) for v in value.values())
    return isinstance(value, str)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sim = None

    def log_message(self, *args):
        pass

    def answer(self, body, status=200, cookie=None, raw=None):
        data = (raw if raw is not None else json.dumps(body, ensure_ascii=False)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        text = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            return json.loads(text) if text else None
        except ValueError:
            return None

    def handle_any(self, method):
        sim = self.sim
        with LOCK:
            sim.status["calls"] += 1
            try:
                if sim.args.version == 3:
                    self.v3(method, sim)
                else:
                    self.v4(method, sim)
            finally:
                sim.save()

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # --- 3.x ----------------------------------------------------------------------------------------
    def v3(self, method, sim):
        body = self.body()
        if method != "POST" or not isinstance(body, dict):
            return self.answer({"Result": 10001, "ErrMsg": "bad request"}, 400)
        if self.path == "/Action/login":
            sim.status["login_attempts"] += 1
            if not every_value_a_string(body) or not all(k in body for k in ("username", "passwd", "pass", "remember_password")):
                return self.answer({"Result": 10001, "ErrMsg": "参数错误"})
            password = sim.args.password
            md5 = hashlib.md5(password.encode()).hexdigest()
            plain = base64.b64encode(("salt_11" + password).encode()).decode()
            hashed = base64.b64encode(("salt_11" + md5).encode()).decode()
            expected = plain if sim.args.pass_variant == "plain" else hashed
            if body["username"] != sim.args.user or body["passwd"] != md5 or body["pass"] != expected:
                return self.answer({"Result": 10001, "ErrMsg": "用户名或密码错误"})
            sim.status["logins"] += 1
            sim.status["pass_variants"].append(sim.args.pass_variant)
            key = secrets.token_hex(16)
            sim.sessions.add(key)
            return self.answer({"Result": 10000, "ErrMsg": "Success"}, cookie="sess_key=%s; path=/; HttpOnly" % key)
        if self.path != "/Action/call":
            return self.answer({"Result": 10001, "ErrMsg": "not found"}, 404)
        if sim.expire_after > 0:
            sim.expire_after -= 1
            if sim.expire_after == 0:
                sim.sessions.clear()
        cookies = dict(c.strip().split("=", 1) for c in self.headers.get("Cookie", "").split(";") if "=" in c)
        if cookies.get("sess_key") not in sim.sessions:
            sim.status["expired_answers"] = sim.status.get("expired_answers", 0) + 1
            return self.answer({"Result": 10014, "ErrMsg": "no login authentication"})
        if body.get("func_name") != "dnat" or not isinstance(body.get("param"), dict) or not every_value_a_string(body["param"]):
            return self.answer({"Result": 30001, "ErrMsg": "参数错误: every value must be a string"})
        action, param = body.get("action"), body["param"]
        if action == "show":
            offset, count = (int(x) for x in param.get("limit", "0,100").split(","))
            rows = [dict(r, tagname=r.get("tagname", ""), lan_addr_int=str(int(ipaddress.IPv4Address(r["lan_addr"])))) for r in sim.rows]
            return self.answer({"Result": 30000, "ErrMsg": "Success", "Data": {"total": len(rows), "data": rows[offset:offset + count]}})
        if action not in ("add", "edit", "del", "down", "up"):
            return self.answer({"Result": 30001, "ErrMsg": "unknown action"})
        sim.status["writes"] += 1
        if sim.write_fault():
            return self.answer({"Result": 30001, "ErrMsg": "injected fault"})
        if action == "add":
            row = {k: param.get(k) for k in FIELDS if k in param}
            problem = sim.check_row(row)
            if problem:
                return self.answer({"Result": 30001, "ErrMsg": problem})
            ident = sim.add(row)
            sim.render()
            return self.answer({"Result": 30000, "ErrMsg": "Success", "RowId": ident})
        if action == "edit":
            row = sim.find(param.get("id"))
            if row is None:
                return self.answer({"Result": 30001, "ErrMsg": "no such id"})
            new = {k: param.get(k) for k in FIELDS if k in param}
            problem = sim.check_row(new, row["id"])
            if problem:
                return self.answer({"Result": 30001, "ErrMsg": problem})
            row.update(new)
            sim.render()
            return self.answer({"Result": 30000, "ErrMsg": "Success"})
        ids = [i for i in param.get("id", "").split(",") if i]
        if not ids or any(sim.find(i) is None for i in ids):
            return self.answer({"Result": 30001, "ErrMsg": "no such id"})
        for i in ids:
            if action == "del":
                sim.rows.remove(sim.find(i))
            else:
                sim.find(i)["enabled"] = "no" if action == "down" else "yes"
        sim.render()
        return self.answer({"Result": 30000, "ErrMsg": "Success"})

    # --- 4.x ----------------------------------------------------------------------------------------
    def v4(self, method, sim):
        base = "/api/v4.0/network/dnat/rules"
        if self.headers.get("Authorization") != "Bearer " + sim.args.token:
            sim.status["refused_tokens"] += 1
            return self.answer({"code": 3007, "message": "token invalid"})
        path, _, query = self.path.partition("?")
        if method == "GET" and path == base:
            q = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            page, limit = int(q.get("page", "1")), int(q.get("limit", "20"))
            rows = sim.rows[(page - 1) * limit:page * limit]
            # Ids as strings, src_addr as an object, and a bare nil where a field is empty: as 4.x firmware answers.
            items = []
            for r in rows:
                fields = ['"id": %s' % json.dumps(str(r["id"]))]
                for k in FIELDS + ["tagname"]:
                    v = r.get(k, "")
                    if k == "src_addr":
                        v = {"custom": sources(r), "object": []}
                    fields.append("%s: %s" % (json.dumps(k), "nil" if v == "" else json.dumps(v, ensure_ascii=False)))
                items.append("{" + ", ".join(fields) + "}")
            raw = '{"code": 0, "message": "Success", "results": {"total": %d, "data": [%s]}}' % (len(sim.rows), ", ".join(items))
            return self.answer(None, raw=raw)
        body = self.body() if method in ("POST", "PUT") else None
        sim.status["writes"] += 1
        if sim.write_fault():
            return self.answer({"code": 3001, "message": "injected fault"})
        if method in ("POST", "PUT"):
            if not isinstance(body, dict) or "tagname" not in body or not isinstance(body.get("src_addr"), dict) \
                    or not every_value_a_string({k: v for k, v in body.items() if k != "src_addr"}) \
                    or not all(isinstance(s, str) for s in body["src_addr"].get("custom", [])):
                return self.answer({"code": 3001, "message": "bad parameter"})
            row = {k: body.get(k) for k in FIELDS + ["tagname"] if k in body}
        if method == "POST" and path == base:
            problem = sim.check_row(row)
            if problem:
                return self.answer({"code": 3001, "message": problem})
            ident = sim.add(row)
            sim.render()
            return self.answer({"code": 0, "message": "Success", "results": {"rowid": ident}})
        if path.startswith(base + "/") and method in ("PUT", "DELETE"):
            row_now = sim.find(path[len(base) + 1:])
            if row_now is None:
                return self.answer({"code": 3001, "message": "no such id"})
            if method == "DELETE":
                sim.rows.remove(row_now)
            else:
                problem = sim.check_row(row, row_now["id"])
                if problem:
                    return self.answer({"code": 3001, "message": problem})
                row_now.update(row)
            sim.render()
            return self.answer({"code": 0, "message": "Success"})
        return self.answer({"code": 3001, "message": "not found"}, 404)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    # socketserver's bind: http.server's looks the address up in DNS, which hangs where there is none.
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", type=int, choices=(3, 4), required=True)
    parser.add_argument("--addr", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--chain", help="the nat chain to render into; none: render nothing")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--https-port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--pass-variant", choices=("plain", "md5"), default="plain")
    parser.add_argument("--seed")
    args = parser.parse_args()
    sim = Sim(args)
    Handler.sim = sim
    servers = []
    if args.http_port:
        servers.append(Server((args.addr, args.http_port), Handler))
    if args.https_port:
        server = Server((args.addr, args.https_port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
    signal.signal(signal.SIGUSR1, lambda *_: (LOCK.acquire(), sim.sessions.clear(), sim.save(), LOCK.release()))
    signal.signal(signal.SIGUSR2, lambda *_: threading.Thread(target=sim.control).start())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sim.save()
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    with open(os.path.join(args.state, "ready"), "w") as f:
        f.write(str(os.getpid()))
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
