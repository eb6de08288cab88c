// Node.js (tls module) serving TLS with a dstack key: the key option is a reference PEM written
// by `dstack-keytool export --key-ref`, which OpenSSL turns into the derived key when the
// dstack provider is active in the process. Node reads the `nodejs_conf` section of
// OPENSSL_CONF, not `openssl_conf`: conf/openssl-dstack.cnf has both lines, so
//   OPENSSL_CONF=/usr/share/dstack-openssl/conf/openssl-dstack.cnf node nodejs-dstack-tls.js PORT CERT KEY
// works (or `node --openssl-shared-config`, which makes node read `openssl_conf` like any
// other program). No code is specific to dstack.
'use strict';
const fs = require('fs');
const tls = require('tls');

const [port, cert, key] = process.argv.slice(2);
const server = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (s) => {
  s.end('hello from node over a dstack key\n');
});
server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
