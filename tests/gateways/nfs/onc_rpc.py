# tests/gateways/nfs/onc_rpc.py — a minimal ONC RPC client over TCP for the
# NFS gateway's tests (rpc_bad_input.py, write_back_check.py): XDR opaque,
# AUTH_SYS, call headers, record marking, reply parsing. Standard library
# only (Debian's /usr/bin/python3 runs the scripts that import it).
import socket
import struct

NFS, MOUNT = 100003, 100005


def xdr_opaque(b):
    return struct.pack(">I", len(b)) + b + b"\0" * ((4 - len(b) % 4) % 4)


def auth_sys(uid=0, gid=0):
    body = struct.pack(">I", 1) + xdr_opaque(b"rpc-bad-input") + struct.pack(">III", uid, gid, 0)
    return struct.pack(">I", 1) + xdr_opaque(body)


AUTH_NONE = struct.pack(">II", 0, 0)


def call(xid, prog, vers, proc, args=b"", cred=None, rpcvers=2):
    cred = auth_sys() if cred is None else cred
    return struct.pack(">IIIIII", xid, 0, rpcvers, prog, vers, proc) + cred + AUTH_NONE + args


def record(payload, fragments=1):
    out = b""
    step = max(1, (len(payload) + fragments - 1) // fragments)
    pieces = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
    for i, p in enumerate(pieces):
        last = 0x80000000 if i == len(pieces) - 1 else 0
        out += struct.pack(">I", last | len(p)) + p
    return out


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=30)

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One reply record, or None if the connection closed."""
        data = b""
        while True:
            mark = self._read(4)
            if mark is None:
                return None
            (m,) = struct.unpack(">I", mark)
            body = self._read(m & 0x7FFFFFFF)
            if body is None:
                return None
            data += body
            if m & 0x80000000:
                return data

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.s.recv(n - len(buf))
            except (ConnectionResetError, socket.timeout):
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def rpc(self, payload, fragments=1):
        self.send(record(payload, fragments))
        return self.reply()


def parse(reply):
    """(xid, kind, fields...) of a reply: ('accepted', stat, rest) or
    ('denied', stat, rest)."""
    xid, mtype, rstat = struct.unpack(">III", reply[:12])
    assert mtype == 1
    if rstat == 0:  # MSG_ACCEPTED: verifier, then accept_stat
        _, vlen = struct.unpack(">II", reply[12:20])
        at = 20 + (vlen + 3) // 4 * 4
        (astat,) = struct.unpack(">I", reply[at:at + 4])
        return xid, "accepted", astat, reply[at + 4:]
    (rj,) = struct.unpack(">I", reply[12:16])
    return xid, "denied", rj, reply[16:]
