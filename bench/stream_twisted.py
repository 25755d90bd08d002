"""stream_twisted: the Twisted server of the memory benchmark.

    /usr/bin/python3 bench/stream_twisted.py -m producer|loop [-b ADDR]
        [-p PORT] [-B BYTES]

Every connection is sent BYTES (default 1 GiB) in 64 KiB chunks, then
closed. producer: a streaming (push) producer writes until Twisted pauses
it (past bufferSize) and continues when resumed. loop: everything is
written at once, as a naive server would. Same first stdout line as
ior-echo; SIGINT/SIGTERM stop it. bench/run reads VmHWM from /proc.
"""

import argparse
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import interfaces, protocol, reactor  # noqa: E402
from zope.interface import implementer  # noqa: E402

CHUNK = b"x" * 65536


@implementer(interfaces.IPushProducer)
class Streamer:
    def __init__(self, transport, total):
        self.transport = transport
        self.left = total
        self.paused = False
        self.stopped = False

    def resumeProducing(self):
        self.paused = False
        while not self.paused and not self.stopped and self.left > 0:
            n = min(len(CHUNK), self.left)
            self.transport.write(CHUNK if n == len(CHUNK) else CHUNK[:n])
            self.left -= n
        if self.left == 0 and not self.stopped:
            self.stopped = True
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def pauseProducing(self):
        self.paused = True

    def stopProducing(self):
        self.stopped = True


class Stream(protocol.Protocol):
    def connectionMade(self):
        total = self.factory.total
        if self.factory.mode == "producer":
            s = Streamer(self.transport, total)
            self.transport.registerProducer(s, True)
            s.resumeProducing()
            return
        while total > 0:
            n = min(len(CHUNK), total)
            self.transport.write(CHUNK if n == len(CHUNK) else CHUNK[:n])
            total -= n
        self.transport.loseConnection()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", choices=("producer", "loop"), default="producer")
    ap.add_argument("-b", default="127.0.0.1")
    ap.add_argument("-p", type=int, default=0)
    ap.add_argument("-B", type=int, default=1 << 30)
    a = ap.parse_args()
    f = protocol.Factory()
    f.protocol = Stream
    f.mode = a.m
    f.total = a.B
    port = reactor.listenTCP(a.p, f, backlog=511, interface=a.b)
    h = port.getHost()
    host = "[%s]" % h.host if ":" in h.host else h.host
    print("listening on %s:%d" % (host, h.port), flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
