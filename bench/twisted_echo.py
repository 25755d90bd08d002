"""twisted_echo: the Twisted peer of ior-echo for bench/run.

    /usr/bin/python3 bench/twisted_echo.py [-b ADDR] [-p PORT]
                                           [--cert FILE --key FILE]

Debian's python3-twisted on the epoll reactor. Same command line, first
stdout line ("listening on ADDR:PORT") and behaviour as ior-echo: every
connection registers its transport as its own streaming producer, so
Twisted pauses reading when the write buffer passes bufferSize (64 KiB) and
resumes when it drains. On EOF the protocol (half-close aware) sends what
is queued and then closes. SIGINT/SIGTERM stop the reactor; exit status 0.
With --cert and --key it serves TLS (listenSSL: Twisted's
TLSMemoryBIOProtocol over pyOpenSSL), as ior-echo does with the same
options.
"""

import argparse
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import interfaces, protocol, reactor  # noqa: E402
from zope.interface import implementer  # noqa: E402


@implementer(interfaces.IHalfCloseableProtocol)
class Echo(protocol.Protocol):
    def connectionMade(self):
        # Over TLS the transport is the TLS protocol, without TCP options.
        nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if nodelay is not None:
            nodelay(True)
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data):
        self.transport.write(data)

    def readConnectionLost(self):
        # Unregister first: with the transport still registered and paused,
        # Twisted's doWrite would resume it on drain instead of closing.
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-b", default="127.0.0.1")
    ap.add_argument("-p", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    f = protocol.Factory()
    f.protocol = Echo
    if a.cert and a.key:
        from twisted.internet import ssl

        ctx = ssl.DefaultOpenSSLContextFactory(a.key, a.cert)
        port = reactor.listenSSL(a.p, f, ctx, backlog=511, interface=a.b)
    else:
        port = reactor.listenTCP(a.p, f, backlog=511, interface=a.b)
    h = port.getHost()
    host = "[%s]" % h.host if ":" in h.host else h.host
    print("listening on %s:%d" % (host, h.port), flush=True)
    reactor.run()  # installs SIGINT/SIGTERM handlers that stop it
    return 0


if __name__ == "__main__":
    sys.exit(main())
