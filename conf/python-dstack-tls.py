#!/usr/bin/env python3
# Python's ssl module (Debian 12: Python 3.11, OpenSSL 3.0; Debian 13: Python 3.13, OpenSSL 3.5)
# with dstack keys: load_cert_chain() reads a reference PEM written by `dstack-keytool export
# --key-ref` as the private key, for a server and for a client certificate, when the dstack provider is active in the process, i.e.
# when Python starts with OPENSSL_CONF pointing at conf/openssl-dstack.cnf (Python's ssl module
# initialises OpenSSL with the default configuration file, so the variable is all it takes):
#
#   OPENSSL_CONF=/usr/share/dstack-openssl/conf/openssl-dstack.cnf \
#       python3 python-dstack-tls.py server 8443 web.crt web.key [client-ca.pem]
#   python3 python-dstack-tls.py client 8443 web.example.test web.chain [client.crt client.key]
#
# No code is specific to dstack: ctx.load_cert_chain(cert, key) is the whole integration.
# The server answers one line per connection ("hello <client CN> from python over a dstack
# key") until SIGTERM; the client prints the server's certificate (PEM) and the line.
import signal
import socket
import ssl
import sys


def server(port, cert, key, client_ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)  # key: the reference PEM; the provider derives the key
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with socket.create_server(("127.0.0.1", int(port))) as sock:
        print("listening", flush=True)
        while True:
            conn, _ = sock.accept()
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    peer = tls.getpeercert() or {}
                    cn = dict(x[0] for x in peer.get("subject", ())).get("commonName", "anonymous")
                    tls.sendall(f"hello {cn} from python over a dstack key\n".encode())
            except (ssl.SSLError, OSError) as e:
                print(f"handshake failed: {e}", file=sys.stderr, flush=True)


def client(port, host, ca, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    # Python 3.13 made X509_STRICT the default, which requires an Authority Key Identifier on
    # every issued certificate; the dstack agent's leaves carry none (rcgen's layout,
    # protocol.md §4.6), so strict mode rejects every certificate the agent issues. The chain,
    # name and validity checks stay as they are.
    ctx.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    if cert:
        ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            print(ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True)), end="")
            print(tls.recv(256).decode(), end="")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("server", "client"):
        sys.exit(__doc__ or "usage: python-dstack-tls.py server|client ...")
    (server if sys.argv[1] == "server" else client)(*sys.argv[2:])
