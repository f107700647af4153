// The deterministic import set of the AO host: what an aos module's emscripten glue would give
// it, minus everything that reads the outside world. The answers follow @permaweb/ao-loader
// 0.0.49's glue wherever a module can see them (errno values, what lands in memory, how often
// the clock is read), because any difference moves aos's results or its memory image:
// - no file system: every path is absent (ENOENT); only fds 0–2, a tty as in the glue, exist;
//   what is written to them is counted and dropped;
// - the clock is the format's (formats.ts): a counter read once per call, or 0;
// - the time zone is UTC whatever the host's (the oracle is run with TZ=UTC);
// - `system` is refused (-52), WeaveDrive finds no file (Asyncify's suspension is replayed
//   synchronously, with the glue's malloc/free of its buffer, so memory stays identical);
// - `invoke_*` and `_emscripten_throw_longjmp` carry setjmp/longjmp as the glue does.
// A module that imports anything else is refused before it is instantiated.
import { unprocessable } from '../../protocol/errors.ts';
import type { AoFormat } from './formats.ts';

/** What the imports need from the instance they serve (engine/wasm/ao/instance.ts). */
export interface AoHost {
  format: AoFormat;
  /** The instance's exports, set once it is instantiated (imports are only called after). */
  exports: Record<string, any>;
  memory(): WebAssembly.Memory;
  /** Reads the clock: the format's counter (advancing it) or 0. */
  now(): number;
  /** Counts a write the glue's tty would have timestamped (a clock read in the oracle). */
  touch(): void;
  /** The glue's heap growth (`emscripten_resize_heap`). */
  resizeHeap(requested: number): boolean;
  heapMax(): number;
  /** `metering.usegas`: adds, and throws beyond the limit. */
  useGas(amount: number): void;
  gasUsed(): number;
  /** A WeaveDrive call: suspends (Asyncify unwind) or resumes (rewind); returns what the module sees. */
  suspend(): number;
}

const ENOENT = 44;
const EBADF = 8;
const EINVAL = 28;
const ENOTTY = 59;
const ESPIPE = 70;
const ENOSYS = 52;
const EPERM = 63;

/** Every import the host provides, by `module.name` (invoke_* are matched by pattern). */
const ENV_NAMES = [
  '_emscripten_throw_longjmp', 'strftime', 'strftime_l', 'exit', '_abort_js', 'abort', '__assert_fail', 'emscripten_err',
  '__asyncjs__weavedrive_open', '__asyncjs__weavedrive_read', '__asyncjs__weavedrive_close', 'metering_gasUsed',
  '__syscall_fcntl64', '__syscall_ioctl', '__syscall_dup3', '__syscall_unlinkat', '__syscall_rmdir', '__syscall_renameat',
  '__syscall_openat', '__syscall_readlinkat', '__syscall_faccessat', '__syscall_fchmod', '__syscall_chmod', '__syscall_fchown32',
  '__syscall_fstat64', '__syscall_stat64', '__syscall_newfstatat', '__syscall_lstat64', '__syscall_getcwd', '__syscall_mkdirat',
  '__syscall_utimensat', '__syscall_ftruncate64',
  '_emscripten_memcpy_js', 'emscripten_memcpy_big', 'emscripten_date_now', '_emscripten_date_now', 'emscripten_get_now',
  '_emscripten_get_now_is_monotonic', '_emscripten_system', 'system',
  '_tzset_js', '_mktime_js', '_localtime_js', '_gmtime_js', 'emscripten_resize_heap', 'emscripten_get_heap_max',
  '_mmap_js', '_munmap_js', '_dlopen_js', '_dlsym_js', '_dlinit', 'getTempRet0', 'setTempRet0',
] as const;
const WASI_NAMES = ['fd_close', 'fd_read', 'fd_write', 'fd_seek', 'fd_sync', 'fd_fdstat_get', 'environ_sizes_get', 'environ_get'] as const;
const PROVIDED = new Set<string>([...ENV_NAMES.map((n) => `env.${n}`), ...WASI_NAMES.map((n) => `wasi_snapshot_preview1.${n}`), 'metering.usegas']);
const INVOKE = /^invoke_[vijfd]+$/;

/** Whether the host provides `module.name`. */
export function provides(module: string, name: string): boolean {
  return PROVIDED.has(`${module}.${name}`) || (module === 'env' && INVOKE.test(name));
}

/** Refuses, before instantiation, a module importing anything the host does not provide (all of them named). */
export function checkImports(module: WebAssembly.Module | readonly { module: string; name: string; kind: string }[], label = 'module'): void {
  const imports = module instanceof WebAssembly.Module ? WebAssembly.Module.imports(module) : module;
  const missing = imports.filter((i) => i.kind !== 'function' || !provides(i.module, i.name));
  if (missing.length === 0) return;
  const names = missing.map((i) => `${i.module}.${i.name}${i.kind === 'function' ? '' : ` (${i.kind})`}`);
  throw unprocessable(
    `${label} imports ${names.join(', ')}, which the AO host does not provide; it provides the emscripten env.* and wasi_snapshot_preview1.* functions aos builds use, and metering.usegas`,
    { imports: names },
  );
}

/** Whether a module is pre-metered (imports `metering.usegas`): its gas is counted and reported. */
export function isPreMetered(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.module === 'metering' && i.name === 'usegas');
}

const UTF8 = new TextDecoder('utf-8');
const ENCODER = new TextEncoder();
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const isLeapYear = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const CUMULATIVE_LEAP = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];
const CUMULATIVE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const DAYS_LEAP = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/** The glue's `new Date(y, m, d, …)` in local time, which is UTC here (TZ pinned). */
const utc = (y: number, m = 0, d = 1, h = 0, mi = 0, s = 0) => {
  const date = new Date(0);
  date.setUTCFullYear(y, m, d);
  date.setUTCHours(h, mi, s, 0);
  return date;
};

/** The import object for one instance. */
export function aoImports(host: AoHost): WebAssembly.Imports {
  const wide = host.format.pointer === 'i64';
  let views: { u8: Uint8Array; dv: DataView } | undefined;
  const mem = () => {
    const buffer = host.memory().buffer;
    if (!views || views.u8.buffer !== buffer) views = { u8: new Uint8Array(buffer), dv: new DataView(buffer) };
    return views;
  };
  /** A pointer or size argument as a Number (BigInt on memory64). */
  const p = (x: number | bigint) => (typeof x === 'bigint' ? Number(x) : x >>> 0);
  /** An i64 result (BigInt on memory64, where the import's result is i64). */
  const wideResult = (n: number) => (wide ? BigInt(n) : n);
  const readPtr = (at: number) => (wide ? Number(mem().dv.getBigUint64(at, true)) : mem().dv.getUint32(at, true));
  const writePtr = (at: number, value: number) => (wide ? mem().dv.setBigUint64(at, BigInt(value), true) : mem().dv.setUint32(at, value, true));
  const i32 = (at: number) => mem().dv.getInt32(at, true);
  const setI32 = (at: number, value: number) => mem().dv.setInt32(at, value, true);
  const cString = (at: number) => {
    const { u8 } = mem();
    let end = at;
    while (u8[end]) end++;
    return UTF8.decode(u8.subarray(at, end));
  };
  /** The glue's stringToUTF8(str, at, max): as many whole bytes as fit in max - 1, then NUL. */
  const writeString = (text: string, at: number, max: number) => {
    const bytes = ENCODER.encode(text).subarray(0, max - 1);
    mem().u8.set(bytes, at);
    mem().u8[at + bytes.length] = 0;
  };
  const ptrSize = wide ? 8 : 4;
  const closed = new Set<number>();
  const isStd = (fd: number) => fd >= 0 && fd <= 2 && !closed.has(fd);

  /** setjmp/longjmp: call through the table; a longjmp (a thrown number) unwinds to here, restores the stack and marks setThrew. */
  const invoke = (sig: string) => (index: number | bigint, ...args: unknown[]) => {
    const e = host.exports;
    const sp = e.emscripten_stack_get_current();
    try {
      const dyn = e[`dynCall_${sig}`];
      if (dyn) return dyn(wide ? Number(index) : index, ...args);
      return (e.__indirect_function_table as WebAssembly.Table).get(Number(index))(...args);
    } catch (thrown) {
      e._emscripten_stack_restore(sp);
      // a longjmp is a thrown number (Infinity), or the string 'longjmp' in emscripten2's older glue
      if (thrown !== (thrown as number) + 0 && thrown !== 'longjmp') throw thrown;
      e.setThrew(wide ? 1n : 1, 0);
      return undefined;
    }
  };

  /** struct tm's tm_sec … tm_year from a date, in UTC. */
  const writeTmFields = (tm: number, date: Date) => {
    setI32(tm, date.getUTCSeconds());
    setI32(tm + 4, date.getUTCMinutes());
    setI32(tm + 8, date.getUTCHours());
    setI32(tm + 12, date.getUTCDate());
    setI32(tm + 16, date.getUTCMonth());
    setI32(tm + 20, date.getUTCFullYear() - 1900);
  };
  const localtime = (time: number, tm: number) => {
    const date = new Date(time * 1000);
    writeTmFields(tm, date);
    setI32(tm + 24, date.getUTCDay());
    const yday = ((date.getTime() - Date.UTC(date.getUTCFullYear(), 0, 1)) / 86_400_000) | 0;
    setI32(tm + 28, yday);
    return tm;
  };
  const gmtimeInto = localtime; // in UTC both are the same fields…
  const localExtras = (tm: number) => {
    // …but localtime also writes tm_gmtoff (0 in UTC) and tm_isdst (0: no DST in UTC)
    if (wide) mem().dv.setBigInt64(tm + 40, 0n, true);
    else setI32(tm + 36, 0);
    setI32(tm + 32, 0);
  };
  const mktime = (tm: number): number => {
    const date = utc(i32(tm + 20) + 1900, i32(tm + 16), i32(tm + 12), i32(tm + 8), i32(tm + 4), i32(tm));
    if (i32(tm + 32) < 0) setI32(tm + 32, 0);
    setI32(tm + 24, date.getUTCDay());
    const leap = isLeapYear(date.getUTCFullYear());
    setI32(tm + 28, ((leap ? CUMULATIVE_LEAP : CUMULATIVE)[date.getUTCMonth()] + date.getUTCDate() - 1) | 0);
    writeTmFields(tm, date); // normalised, as mktime does
    const ms = date.getTime();
    return Number.isNaN(ms) ? -1 : ms / 1000;
  };

  const strftime = (s: number, maxsize: number, format: number, tm: number): number => {
    const zonePtr = wide ? Number(mem().dv.getBigUint64(tm + 48, true)) : mem().dv.getUint32(tm + 40, true);
    const date = {
      tm_sec: i32(tm), tm_min: i32(tm + 4), tm_hour: i32(tm + 8), tm_mday: i32(tm + 12), tm_mon: i32(tm + 16),
      tm_year: i32(tm + 20), tm_wday: i32(tm + 24), tm_yday: i32(tm + 28), tm_isdst: i32(tm + 32),
      tm_gmtoff: wide ? Number(mem().dv.getBigInt64(tm + 40, true)) : i32(tm + 36),
      tm_zone: zonePtr ? cString(zonePtr) : '',
    };
    return strftimeText(cString(format), date, (text) => {
      const bytes = ENCODER.encode(text);
      if (bytes.length + 1 > maxsize) return 0;
      mem().u8.set(bytes, s);
      mem().u8[s + bytes.length] = 0;
      return bytes.length;
    });
  };

  const env: Record<string, (...args: any[]) => unknown> = {
    _emscripten_throw_longjmp: () => {
      throw Infinity;
    },
    strftime: (s, maxsize, format, tm) => wideResult(strftime(p(s), p(maxsize), p(format), p(tm))),
    strftime_l: (s, maxsize, format, tm) => wideResult(strftime(p(s), p(maxsize), p(format), p(tm))),
    exit: (code: number) => {
      // the glue flushes stdio (checkUnflushedContent) and throws its ExitStatus
      host.exports.fflush?.(wide ? 0n : 0);
      throw new Error(`Program terminated with exit(${code})`);
    },
    _abort_js: () => {
      throw new WebAssembly.RuntimeError('Aborted(native code called abort())');
    },
    abort: () => {
      throw new WebAssembly.RuntimeError('Aborted()');
    },
    __assert_fail: (condition, filename, line, func) => {
      throw new WebAssembly.RuntimeError(
        `Aborted(Assertion failed: ${cString(p(condition))}, at: ${[p(filename) ? cString(p(filename)) : 'unknown filename', line, p(func) ? cString(p(func)) : 'unknown function'].join(', ')})`,
      );
    },
    emscripten_err: () => undefined,
    __asyncjs__weavedrive_open: () => host.suspend(),
    __asyncjs__weavedrive_read: () => {
      throw new Error('WeaveDrive is not available on this node: no file was opened to read');
    },
    __asyncjs__weavedrive_close: () => {
      throw new Error('WeaveDrive is not available on this node: no file was opened to close');
    },
    metering_gasUsed: () => host.gasUsed(),

    __syscall_fcntl64: (fd: number, cmd: number, varargs) => {
      if (!isStd(fd)) return -EBADF;
      if (cmd === 1 || cmd === 2 || cmd === 6 || cmd === 7 || (!wide && (cmd === 13 || cmd === 14))) return 0;
      if (cmd === 3) return fd === 0 ? 0 : 1; // the stream's open flags: O_RDONLY for stdin, O_WRONLY for stdout/stderr
      if (cmd === 4) return 0;
      if (cmd === (wide ? 5 : 12)) {
        mem().dv.setInt16(readPtr(p(varargs)), 2, true); // F_GETLK: F_UNLCK
        return 0;
      }
      return -EINVAL;
    },
    __syscall_ioctl: (fd: number, op: number, varargs) => {
      if (!isStd(fd)) return -EBADF;
      const argp = () => readPtr(p(varargs));
      switch (op) {
        case 21505: // TCGETS: stdin/stdout are the glue's /dev/tty (termios), stderr /dev/tty1 (none)
          if (fd !== 2) {
            const at = argp();
            setI32(at, 25856);
            setI32(at + 4, 5);
            setI32(at + 8, 191);
            setI32(at + 12, 35387);
            const cc = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22];
            for (let i = 0; i < 32; i++) mem().u8[at + i + 17] = cc[i] ?? 0;
          }
          return 0;
        case 21523: // TIOCGWINSZ
          if (fd !== 2) {
            const at = argp();
            mem().dv.setInt16(at, 24, true);
            mem().dv.setInt16(at + 2, 80, true);
          }
          return 0;
        case 21519: // TIOCGPGRP
          setI32(argp(), 0);
          return 0;
        case 21509: case 21510: case 21511: case 21512: case 21506: case 21507: case 21508: case 21524: case 21515:
          return 0;
        case 21520:
          return -EINVAL;
        case 21531: // FIONREAD on a tty: the glue's FS.ioctl has no handler
          return -ENOTTY;
        default:
          return -EINVAL;
      }
    },
    __syscall_dup3: (fd: number, suggest: number, flags: number) => {
      if (!isStd(fd)) return -EBADF;
      if (fd === suggest) return -EINVAL;
      if (flags) return -EINVAL;
      return -EBADF; // no fd beyond 0–2 exists to hold a copy
    },
    __syscall_unlinkat: () => -ENOENT,
    __syscall_rmdir: () => -ENOENT,
    __syscall_renameat: () => -ENOENT,
    __syscall_openat: () => -ENOENT,
    __syscall_readlinkat: () => -ENOENT,
    __syscall_faccessat: () => -ENOENT,
    __syscall_fchmod: (fd: number) => (isStd(fd) ? -EPERM : -EBADF),
    __syscall_chmod: () => -ENOENT,
    __syscall_fchown32: (fd: number) => (isStd(fd) ? -EPERM : -EBADF),
    __syscall_fstat64: (fd: number) => (isStd(fd) ? -ENOSYS : -EBADF),
    __syscall_stat64: () => -ENOENT,
    __syscall_newfstatat: () => -ENOENT,
    __syscall_lstat64: () => -ENOENT,
    __syscall_getcwd: (buf, size) => {
      const n = p(size);
      if (n === 0) return -EINVAL;
      if (n < 2) return -68; // ERANGE
      writeString('/', p(buf), n);
      return 2;
    },
    __syscall_mkdirat: () => -ENOENT,
    __syscall_utimensat: () => -ENOENT,
    __syscall_ftruncate64: (fd: number) => (isStd(fd) ? -EINVAL : -EBADF),

    _emscripten_memcpy_js: (dest, src, num) => {
      const s = p(src);
      mem().u8.copyWithin(p(dest), s, s + p(num));
    },
    emscripten_memcpy_big: (dest, src, num) => {
      const s = p(src);
      mem().u8.copyWithin(p(dest), s, s + p(num));
    },
    emscripten_date_now: () => host.now(),
    _emscripten_date_now: () => host.now(),
    // emscripten2's glue reads process.hrtime, which it has replaced by a counter: NaN
    emscripten_get_now: () => (host.format.clock === 'zero' ? NaN : host.now()),
    _emscripten_get_now_is_monotonic: () => 1,
    _emscripten_system: (command) => (p(command) ? -ENOSYS : 0),
    system: (command) => (p(command) ? -ENOSYS : 0),

    _tzset_js: (timezone, daylight, stdName, dstName) => {
      writePtr(p(timezone), 0); // `long timezone`: pointer-sized
      setI32(p(daylight), 0);
      writeString('UTC', p(stdName), 17);
      writeString('UTC', p(dstName), 17);
    },
    _mktime_js: (tm) => {
      const seconds = mktime(p(tm));
      if (wide) return BigInt(seconds);
      // wasm32 legalises the i64 result: the high half goes through tempRet0
      const high = Math.abs(seconds) >= 1 ? (seconds > 0 ? Math.floor(seconds / 4294967296) >>> 0 : ~~Math.ceil((seconds - (~~seconds >>> 0)) / 4294967296) >>> 0) : 0;
      host.exports._emscripten_tempret_set?.(high);
      return seconds >>> 0;
    },
    _localtime_js: (...args: any[]) => {
      const [time, tm] = wide ? [Number(args[0]), p(args[1])] : [i53(args[0], args[1]), p(args[2])];
      localtime(time, tm);
      localExtras(tm);
    },
    _gmtime_js: (...args: any[]) => {
      const [time, tm] = wide ? [Number(args[0]), p(args[1])] : [i53(args[0], args[1]), p(args[2])];
      gmtimeInto(time, tm);
    },
    emscripten_resize_heap: (requested) => (host.resizeHeap(p(requested)) ? 1 : 0),
    emscripten_get_heap_max: () => wideResult(host.heapMax()),
    _mmap_js: () => -ENOSYS,
    _munmap_js: () => -ENOSYS,
    _dlopen_js: () => 0,
    _dlsym_js: () => 0,
    _dlinit: () => undefined,
    getTempRet0: () => tempRet0,
    setTempRet0: (value: number) => {
      tempRet0 = value;
    },
  };
  let tempRet0 = 0;

  const wasi: Record<string, (...args: any[]) => unknown> = {
    fd_write: (fd: number, iov, iovcnt, pnum) => {
      if (!isStd(fd)) return EBADF;
      if (fd === 0) return EBADF; // stdin is open read-only
      let at = p(iov);
      let total = 0;
      for (let i = 0; i < p(iovcnt); i++) {
        const len = readPtr(at + ptrSize);
        at += 2 * ptrSize;
        if (len > 0) host.touch(); // the glue's tty timestamps each non-empty write: a clock read
        total += len;
      }
      writePtr(p(pnum), total);
      return 0;
    },
    fd_read: (fd: number, _iov, _iovcnt, pnum) => {
      if (fd !== 0 || !isStd(fd)) return EBADF; // stdout and stderr are open write-only
      writePtr(p(pnum), 0); // stdin is at its end
      return 0;
    },
    fd_seek: (fd: number) => (isStd(fd) ? ESPIPE : EBADF),
    fd_close: (fd: number) => {
      if (!isStd(fd)) return EBADF;
      closed.add(fd);
      return 0;
    },
    fd_sync: (fd: number) => (isStd(fd) ? 0 : EBADF),
    fd_fdstat_get: (fd: number, buf) => {
      if (!isStd(fd)) return EBADF;
      const at = p(buf);
      mem().u8[at] = 2; // a character device (the tty)
      mem().dv.setInt16(at + 2, 0, true);
      mem().dv.setBigInt64(at + 8, 0n, true);
      mem().dv.setBigInt64(at + 16, 0n, true);
      return 0;
    },
    environ_sizes_get: (count, size) => {
      const strings = host.format.environ;
      writePtr(p(count), strings.length);
      writePtr(p(size), strings.reduce((n, s) => n + s.length + 1, 0));
      return 0;
    },
    environ_get: (environ, buf) => {
      let offset = 0;
      host.format.environ.forEach((text, i) => {
        const at = p(buf) + offset;
        writePtr(p(environ) + i * ptrSize, at);
        for (let j = 0; j < text.length; j++) mem().u8[at + j] = text.charCodeAt(j);
        mem().u8[at + text.length] = 0;
        offset += text.length + 1;
      });
      return 0;
    },
  };

  const envProxy = new Proxy(env, {
    get: (target, name: string) => (name in target ? target[name] : INVOKE.test(name) ? (target[name] = invoke(name.slice('invoke_'.length))) : undefined),
  });
  return {
    env: envProxy,
    wasi_snapshot_preview1: wasi,
    metering: { usegas: (amount: number | bigint) => host.useGas(Number(amount)) },
  } as WebAssembly.Imports;
}

/** wasm32's legalised i64 argument (low, high) as a Number (NaN beyond 2^53, as the glue's check). */
function i53(low: number, high: number): number {
  return high + 0x200000 >>> 0 < 0x400001 - Number(!!low) ? (low >>> 0) + high * 4294967296 : NaN;
}

interface Tm {
  tm_sec: number; tm_min: number; tm_hour: number; tm_mday: number; tm_mon: number; tm_year: number;
  tm_wday: number; tm_yday: number; tm_isdst: number; tm_gmtoff: number; tm_zone: string;
}

/** The glue's strftime, rule for rule (its JavaScript, with the local time zone read as UTC). */
function strftimeText(format: string, date: Tm, write: (text: string) => number): number {
  const RULES_1: Record<string, string> = {
    '%c': '%a %b %d %H:%M:%S %Y', '%D': '%m/%d/%y', '%F': '%Y-%m-%d', '%h': '%b', '%r': '%I:%M:%S %p', '%R': '%H:%M',
    '%T': '%H:%M:%S', '%x': '%m/%d/%y', '%X': '%H:%M:%S', '%Ec': '%c', '%EC': '%C', '%Ex': '%m/%d/%y', '%EX': '%H:%M:%S',
    '%Ey': '%y', '%EY': '%Y', '%Od': '%d', '%Oe': '%e', '%OH': '%H', '%OI': '%I', '%Om': '%m', '%OM': '%M', '%OS': '%S',
    '%Ou': '%u', '%OU': '%U', '%OV': '%V', '%Ow': '%w', '%OW': '%W', '%Oy': '%y',
  };
  let pattern = format;
  for (const rule in RULES_1) pattern = pattern.replace(new RegExp(rule, 'g'), RULES_1[rule]);
  const leading = (value: unknown, digits: number, character: string) => {
    let text = typeof value === 'number' ? value.toString() : (value as string) || '';
    while (text.length < digits) text = character[0] + text;
    return text;
  };
  const nulls = (value: unknown, digits: number) => leading(value, digits, '0');
  const sgn = (value: number) => (value < 0 ? -1 : value > 0 ? 1 : 0);
  const compareByDay = (a: Date, b: Date) =>
    sgn(a.getUTCFullYear() - b.getUTCFullYear()) || sgn(a.getUTCMonth() - b.getUTCMonth()) || sgn(a.getUTCDate() - b.getUTCDate());
  const firstWeekStart = (janFourth: Date) => {
    const y = janFourth.getUTCFullYear();
    switch (janFourth.getUTCDay()) {
      case 0: return utc(y - 1, 11, 29);
      case 1: return janFourth;
      case 2: return utc(y, 0, 3);
      case 3: return utc(y, 0, 2);
      case 4: return utc(y, 0, 1);
      case 5: return utc(y - 1, 11, 31);
      default: return utc(y - 1, 11, 30);
    }
  };
  const addDays = (start: Date, days: number) => {
    // the glue's addDays walks month by month; on UTC dates that is plain day arithmetic
    const out = new Date(start.getTime());
    out.setUTCDate(out.getUTCDate() + days);
    return out;
  };
  const weekBasedYear = (d: Tm) => {
    const thisDate = addDays(utc(d.tm_year + 1900, 0, 1), d.tm_yday);
    const y = thisDate.getUTCFullYear();
    const thisStart = firstWeekStart(utc(y, 0, 4));
    const nextStart = firstWeekStart(utc(y + 1, 0, 4));
    if (compareByDay(thisStart, thisDate) <= 0) return compareByDay(nextStart, thisDate) <= 0 ? y + 1 : y;
    return y - 1;
  };
  const arraySum = (array: number[], index: number) => {
    let sum = 0;
    for (let i = 0; i <= index; sum += array[i++]);
    return sum;
  };
  const RULES_2: Record<string, (d: Tm) => unknown> = {
    '%a': (d) => WEEKDAYS[d.tm_wday].substring(0, 3),
    '%A': (d) => WEEKDAYS[d.tm_wday],
    '%b': (d) => MONTHS[d.tm_mon].substring(0, 3),
    '%B': (d) => MONTHS[d.tm_mon],
    '%C': (d) => nulls(((d.tm_year + 1900) / 100) | 0, 2),
    '%d': (d) => nulls(d.tm_mday, 2),
    '%e': (d) => leading(d.tm_mday, 2, ' '),
    '%g': (d) => weekBasedYear(d).toString().substring(2),
    '%G': weekBasedYear,
    '%H': (d) => nulls(d.tm_hour, 2),
    '%I': (d) => nulls(d.tm_hour === 0 ? 12 : d.tm_hour > 12 ? d.tm_hour - 12 : d.tm_hour, 2),
    '%j': (d) => nulls(d.tm_mday + arraySum(isLeapYear(d.tm_year + 1900) ? DAYS_LEAP : DAYS, d.tm_mon - 1), 3),
    '%m': (d) => nulls(d.tm_mon + 1, 2),
    '%M': (d) => nulls(d.tm_min, 2),
    '%n': () => '\n',
    '%p': (d) => (d.tm_hour >= 0 && d.tm_hour < 12 ? 'AM' : 'PM'),
    '%S': (d) => nulls(d.tm_sec, 2),
    '%t': () => '\t',
    '%u': (d) => d.tm_wday || 7,
    '%U': (d) => nulls(Math.floor((d.tm_yday + 7 - d.tm_wday) / 7), 2),
    '%V': (d) => {
      let val = Math.floor((d.tm_yday + 7 - ((d.tm_wday + 6) % 7)) / 7);
      if ((d.tm_wday + 371 - d.tm_yday - 2) % 7 <= 2) val++;
      if (!val) {
        val = 52;
        const dec31 = (d.tm_wday + 7 - d.tm_yday - 1) % 7;
        if (dec31 === 4 || (dec31 === 5 && isLeapYear((d.tm_year % 400) - 1))) val++;
      } else if (val === 53) {
        const jan1 = (d.tm_wday + 371 - d.tm_yday) % 7;
        if (jan1 !== 4 && (jan1 !== 3 || !isLeapYear(d.tm_year))) val = 1;
      }
      return nulls(val, 2);
    },
    '%w': (d) => d.tm_wday,
    '%W': (d) => nulls(Math.floor((d.tm_yday + 7 - ((d.tm_wday + 6) % 7)) / 7), 2),
    '%y': (d) => (d.tm_year + 1900).toString().substring(2),
    '%Y': (d) => d.tm_year + 1900,
    '%z': (d) => {
      let off = d.tm_gmtoff;
      const ahead = off >= 0;
      off = Math.abs(off) / 60;
      off = (off / 60) * 100 + (off % 60);
      return (ahead ? '+' : '-') + String('0000' + off).slice(-4);
    },
    '%Z': (d) => d.tm_zone,
    '%%': () => '%',
  };
  pattern = pattern.replace(/%%/g, '\0\0');
  for (const rule in RULES_2) {
    if (pattern.includes(rule)) pattern = pattern.replace(new RegExp(rule, 'g'), String(RULES_2[rule](date)));
  }
  pattern = pattern.replace(/\0\0/g, '%');
  return write(pattern);
}
