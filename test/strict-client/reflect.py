#!/usr/bin/python3
"""A strict gRPC reflection client, standing in for grpcurl.

It uses only server reflection (no local .proto files): lists the services, fetches
the file descriptors of each, and loads them into a protobuf DescriptorPool backed by
the C++ implementation, which rejects malformed descriptors the way Go's protobuf
(grpcurl) does, e.g. a map entry type named other than `<Field>Entry`. Then it can
call methods with JSON, like `grpcurl -d`.

Usage:
  reflect.py ADDR describe                  -> JSON: {service: [method signatures]}
  reflect.py ADDR call /pkg.Svc/Method JSON -> JSON response (a list for server streams)
Exit status: 0 ok, 2 descriptor rejected, 3 RPC error.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_str(num, s):
    b = s.encode()
    return varint(num << 3 | 2) + varint(len(b)) + b


def fields(buf):
    """Yields (field number, value) of a serialized message (varint or bytes fields)."""
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i : i + n], i + n
        else:
            raise ValueError("unexpected wire type %d" % wt)
        yield num, v


def read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


class Reflector:
    def __init__(self, channel):
        self.stub = channel.stream_stream(REFLECTION, request_serializer=None, response_deserializer=None)
        self.files = {}

    def ask(self, field_num, value):
        [resp] = list(self.stub(iter([field_str(field_num, value)])))
        out = {}
        for num, v in fields(resp):
            out.setdefault(num, []).append(v)
        if 7 in out:
            err = dict(fields(out[7][0]))
            raise RuntimeError("reflection error %s: %s" % (err.get(1), err.get(2, b"").decode()))
        return out

    def list_services(self):
        resp = self.ask(7, "*")
        return [dict(fields(s))[1].decode() for num, s in fields(resp[6][0]) if num == 1]

    def load_files(self, resp):
        for num, raw in fields(resp[4][0]):
            if num == 1:
                fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
                self.files.setdefault(fdp.name, fdp)

    def by_symbol(self, symbol):
        self.load_files(self.ask(4, symbol))

    def pool(self):
        pool = descriptor_pool.DescriptorPool()
        added = set()

        def add(name):
            if name in added:
                return
            if name not in self.files:
                self.load_files(self.ask(3, name))
            fdp = self.files[name]
            for dep in fdp.dependency:
                add(dep)
            pool.Add(fdp)  # raises TypeError on a malformed descriptor
            added.add(name)

        for name in list(self.files):
            add(name)
        return pool


def message_class(pool, desc):
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    addr, cmd = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel(addr)
    r = Reflector(channel)
    services = r.list_services()
    for s in services:
        r.by_symbol(s)
    try:
        pool = r.pool()
    except (TypeError, KeyError) as e:
        print("descriptor rejected: %s" % e, file=sys.stderr)
        sys.exit(2)
    if cmd == "describe":
        out = {}
        for s in services:
            sd = pool.FindServiceByName(s)
            out[s] = [
                "%s(%s%s) returns (%s%s)"
                % (
                    m.name,
                    "stream " if m.client_streaming else "",
                    m.input_type.full_name,
                    "stream " if m.server_streaming else "",
                    m.output_type.full_name,
                )
                for m in sd.methods
            ]
        print(json.dumps(out, indent=1))
        return
    if cmd == "call":
        path, body = sys.argv[3], sys.argv[4]
        svc_name, method_name = path.strip("/").split("/")
        m = pool.FindServiceByName(svc_name).methods_by_name[method_name]
        req_cls, res_cls = message_class(pool, m.input_type), message_class(pool, m.output_type)
        req = json_format.Parse(body, req_cls())
        try:
            if m.server_streaming:
                call = channel.unary_stream(path, request_serializer=req_cls.SerializeToString, response_deserializer=res_cls.FromString)
                out = [json_format.MessageToDict(x) for x in call(req, timeout=30)]
            else:
                call = channel.unary_unary(path, request_serializer=req_cls.SerializeToString, response_deserializer=res_cls.FromString)
                out = json_format.MessageToDict(call(req, timeout=30))
        except grpc.RpcError as e:
            print(json.dumps({"code": e.code().name, "details": e.details()}))
            sys.exit(3)
        print(json.dumps(out))
        return
    raise SystemExit("unknown command %r" % cmd)


if __name__ == "__main__":
    main()
