#!/usr/bin/env node
// Launches the third-party LwM2M client coap-node (pinned in package-lock.json) as a
// client under test: client-initiated bootstrap against BS_URI, then whatever the library
// does on its own (it registers to the provisioned servers after Bootstrap-Finish).
//
//   node launch.js BS_URI ENDPOINT        e.g. node launch.js coap://127.0.0.1:40123 urn:dev:cn-1
//
// Runs until killed. Everything it reports goes to stderr, one line per event, prefixed
// "coap-node: [seconds since start]": the library's events and every CoAP datagram it sends
// or receives.
// Exit status: 2 on bad arguments or a missing install, 1 when the library throws, 143/130
// on SIGTERM/SIGINT.
//
// coap-node (and node-coap 0.17 under it) never passes an address to bind(): its request
// socket is bound implicitly on the first send and its listener with bind(port, null),
// both on the wildcard address. The shim below turns every wildcard bind of this process
// into a bind on the loopback address, so nothing but loopback is ever bound. The library's
// protocol behaviour is left untouched.
'use strict';

const dgram = require('dgram');
const net = require('net');
const path = require('path');
const { createRequire } = require('module');

const USAGE = 'usage: node launch.js BS_URI ENDPOINT  (e.g. node launch.js coap://127.0.0.1:40123 urn:dev:cn-1)';

const T0 = process.hrtime.bigint();
function log(msg) {
    const t = (Number(process.hrtime.bigint() - T0) / 1e9).toFixed(3).padStart(8);
    process.stderr.write('coap-node: [' + t + '] ' + msg + '\n');
}

function die(code, msg) {
    log(msg);
    process.exit(code);
}

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
    if (argv.length !== 2)
        die(2, 'error: expected 2 arguments, got ' + argv.length + '; ' + USAGE);

    const [bsUri, endpoint] = argv;
    let url;
    try {
        url = new URL(bsUri);
    } catch (e) {
        die(2, 'error: BS_URI ' + JSON.stringify(bsUri) + ' is not a URI; ' + USAGE);
    }
    if (url.protocol !== 'coap:')
        die(2, 'error: BS_URI must use the coap: scheme (coap-node has no DTLS), got ' + JSON.stringify(bsUri));
    if (url.username || url.password || (url.pathname && url.pathname !== '/') || url.search || url.hash)
        die(2, 'error: BS_URI must be coap://HOST:PORT with no path, query or user info, got ' + JSON.stringify(bsUri));

    let host = url.hostname;
    if (host.startsWith('[') && host.endsWith(']'))
        host = host.slice(1, -1);
    if (host === 'localhost')
        host = '127.0.0.1';
    const family = net.isIP(host);
    if (family === 0)
        die(2, 'error: BS_URI host must be an IP literal or localhost, got ' + JSON.stringify(url.hostname));
    const loopback = family === 4 ? host.startsWith('127.') : host === '::1';
    if (!loopback)
        die(2, 'error: BS_URI host ' + host + ' is not a loopback address; this launcher binds loopback only');

    const port = url.port === '' ? 5683 : Number(url.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
        die(2, 'error: BS_URI port must be 1..65535, got ' + JSON.stringify(url.port));

    if (typeof endpoint !== 'string' || endpoint.length === 0)
        die(2, 'error: ENDPOINT must be a non-empty string; ' + USAGE);
    if (/[&?\s]/.test(endpoint))
        die(2, 'error: ENDPOINT must not contain "&", "?" or white space (coap-node puts it unescaped into the query ep=...), got ' + JSON.stringify(endpoint));

    return { host, port, family, endpoint };
}

const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- loopback-only binds
const LOOPBACK = args.family === 6 ? '::1' : '127.0.0.1';
const WILDCARD = new Set([undefined, null, '', '0.0.0.0', '::']);
const origBind = dgram.Socket.prototype.bind;
dgram.Socket.prototype.bind = function (...a) {
    // bind(), bind(cb), bind(port[, address][, cb]), bind({port, address, ...}[, cb])
    if (a.length > 0 && a[0] !== null && typeof a[0] === 'object') {
        if (WILDCARD.has(a[0].address))
            a[0] = Object.assign({}, a[0], { address: LOOPBACK });
    } else {
        const cb = typeof a[a.length - 1] === 'function' ? a.pop() : undefined;
        const port = typeof a[0] === 'number' || typeof a[0] === 'string' ? a[0] : 0;
        const address = WILDCARD.has(a[1]) ? LOOPBACK : a[1];
        a = cb ? [port, address, cb] : [port, address];
    }
    return origBind.apply(this, a);
};

// ---------------------------------------------------------------- wire log
let coapNodeRequire;
try {
    coapNodeRequire = createRequire(require.resolve('coap-node', { paths: [__dirname] }));
} catch (e) {
    die(2, 'error: coap-node is not installed; run "npm ci" in ' + __dirname);
}
const coapRequire = createRequire(coapNodeRequire.resolve('coap'));
const parsePacket = coapRequire('coap-packet').parse;
const CONTENT_FORMATS = { 0: 'text', 40: 'link', 42: 'octets', 110: 'senml+json', 112: 'senml+cbor', 11542: 'tlv', 11543: 'json' };

function describe(buf) {
    let p;
    try {
        p = parsePacket(buf);
    } catch (e) {
        // coap-packet refuses some messages node-coap itself sends (e.g. a RST with a token)
        if (buf.length < 4)
            return 'malformed (' + e.message + ') hex:' + buf.toString('hex');
        const t = ['CON', 'NON', 'ACK', 'RST'][(buf[0] >> 4) & 3], tkl = buf[0] & 15;
        return t + ' ' + (buf[1] >> 5) + '.' + String(buf[1] & 31).padStart(2, '0') + ' mid=' + buf.readUInt16BE(2) +
            ' tok=' + (tkl ? buf.slice(4, 4 + tkl).toString('hex') : '-') + ' malformed (' + e.message + ') hex:' + buf.toString('hex');
    }
    const type = p.ack ? 'ACK' : p.reset ? 'RST' : p.confirmable ? 'CON' : 'NON';
    const parts = [type, p.code, 'mid=' + p.messageId, 'tok=' + (p.token.length ? p.token.toString('hex') : '-')];
    const pathSegs = [], query = [];
    for (const o of p.options) {
        if (o.name === 'Uri-Path') pathSegs.push(o.value.toString());
        else if (o.name === 'Uri-Query') query.push(o.value.toString());
        else if (o.name === 'Content-Format' || o.name === 'Accept') {
            const n = o.value.length === 0 ? 0 : o.value.readUIntBE(0, o.value.length);
            parts.push((o.name === 'Accept' ? 'accept=' : 'cf=') + n + (CONTENT_FORMATS[n] ? '(' + CONTENT_FORMATS[n] + ')' : ''));
        } else if (o.name === 'Location-Path') parts.push('loc=' + o.value.toString());
        else parts.push(o.name + '=' + o.value.toString('hex'));
    }
    if (pathSegs.length || query.length)
        parts.splice(2, 0, '/' + pathSegs.join('/') + (query.length ? '?' + query.join('&') : ''));
    if (p.payload.length) {
        const printable = /^[\x20-\x7e]*$/.test(p.payload.toString('latin1'));
        parts.push('payload=' + (printable ? JSON.stringify(p.payload.toString()) : 'hex:' + p.payload.toString('hex')));
    }
    return parts.join(' ');
}

function local(sock) {
    try {
        const a = sock.address();
        return (a.family === 'IPv6' || a.family === 6 ? '[' + a.address + ']' : a.address) + ':' + a.port;
    } catch (e) {
        return '(unbound, implicit bind)';
    }
}

const origCreateSocket = dgram.createSocket;
dgram.createSocket = function (...a) {
    const sock = origCreateSocket.apply(this, a);
    sock.prependListener('message', (msg, rinfo) => log('rx ' + local(sock) + ' <- ' + rinfo.address + ':' + rinfo.port + ' ' + describe(msg)));
    sock.on('listening', () => log('socket bound ' + local(sock)));
    return sock;
};
const origSend = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (buf, ...rest) {
    // node-coap 0.17 calls send(buf, offset, length, port, host, cb); node calls send(list, port,
    // host, cb) itself to replay a send queued behind an implicit bind: that one is logged already.
    if (Array.isArray(buf))
        return origSend.call(this, buf, ...rest);
    let msg = buf, port, host;
    if (typeof rest[0] === 'number' && typeof rest[1] === 'number') {
        msg = buf.slice(rest[0], rest[0] + rest[1]);
        port = rest[2]; host = rest[3];
    } else {
        port = rest[0]; host = rest[1];
    }
    log('tx ' + local(this) + ' -> ' + (typeof host === 'string' ? host : '(default)') + ':' + port + ' ' + describe(msg));
    return origSend.call(this, buf, ...rest);
};

// ---------------------------------------------------------------- the client
const CoapNode = coapNodeRequire('coap-node');
const SmartObject = coapNodeRequire('smartobject');
const pkgVersion = require(path.join(path.dirname(coapNodeRequire.resolve('coap-node/package.json')), 'package.json')).version;

process.on('uncaughtException', (err) => {
    log('FATAL uncaught exception (library crashed): ' + String(err && err.stack || err).split('\n').slice(0, 3).join(' | '));
    process.exit(1);
});
process.on('SIGTERM', () => { log('SIGTERM, exiting'); process.exit(143); });
process.on('SIGINT', () => { log('SIGINT, exiting'); process.exit(130); });

// coap-node itself creates Device /3/0 and Connectivity Monitoring /4/0 (lib/init.js);
// the Security /0 and Server /1 instances come from the bootstrap server.
const so = new SmartObject();
const cnode = new CoapNode(args.endpoint, so);
if (args.family === 6)
    cnode._config.connectionType = 'udp6';   // the library's only IPv6 switch (lib/config.js)

for (const ev of ['bootstrapped', 'registered', 'deregistered', 'login', 'logout', 'offline', 'reconnect', 'announce'])
    cnode.on(ev, (arg) => log('event ' + ev + (arg === undefined ? '' : ' ' + JSON.stringify(arg))));
cnode.on('error', (err) => log('event error ' + (err && err.message || String(err))));

log('coap-node ' + pkgVersion + ' on node ' + process.version + ': endpoint ' + JSON.stringify(args.endpoint) +
    ', client-initiated bootstrap to ' + args.host + ':' + args.port + ', binding ' + LOOPBACK + ' only');
cnode.bootstrap(args.host, args.port, (err, rsp) => {
    if (err)
        log('bootstrap request failed: ' + (err.message || String(err)));
    else
        log('bootstrap request answered ' + rsp.status + (rsp.status === '2.04' ? ', listening for the bootstrap server' : ', library gives up (no retry)'));
});

// The library's timers keep the process alive, but not necessarily for ever (a bootstrap
// request that got no answer leaves nothing pending): stay up until killed.
setInterval(() => {}, 1 << 30);
