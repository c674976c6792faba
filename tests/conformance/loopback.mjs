// Preloaded into the bridge (node --import): a server that listens on a port
// without naming an address listens on 127.0.0.1 only.
import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string')
    args.splice(1, 0, '127.0.0.1');
  return listen.apply(this, args);
};
