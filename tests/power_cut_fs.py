#!/usr/bin/env python3
"""A FUSE file system that forgets, when the power is cut, everything that was not made durable.

Usage: power_cut_fs.py BACKING MOUNTPOINT

It passes every operation through to BACKING and keeps, beside it, what a power cut would lose
(the method of LazyFS and ALICE):
- file data written since the file's last fsync/fdatasync (an undo log of the bytes it
  overwrote, and the size it had at that sync: a grown size is lost too);
- files and directories created since the last fsync of their directory.
Renames and removals are kept at once (as LazyFS does; a journaling file system commits them in
order). It prints "ready" once mounted. A line "cut" on standard input cuts the power: the file
system is unmounted (the writer must be dead by then), the undo logs are applied to BACKING and
the unsynced creations removed; it prints "cut N bytes M entries" and exits. EOF on standard
input unmounts without a cut.
"""

import errno
import os
import shutil
import subprocess
import sys
import threading

from fuse import FUSE, FuseOSError, Operations


class PowerCutFS(Operations):
    def __init__(self, root, mountpoint):
        self.root = os.path.realpath(root)
        self.mountpoint = mountpoint
        # inode -> {"size": size at the last sync, "undo": [(offset, old bytes)]}
        self.undo = {}
        # inode -> the backing path it has now (for the cut)
        self.paths = {}
        # relative paths created since their directory's last fsync
        self.created = set()
        self.cut = False
        # Set once the unmount is asked for: how the FUSE loop then ends does not matter (the
        # kernel may answer its last read with ECONNABORTED instead of ENODEV).
        self.unmounting = False

    def _p(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # -- metadata --------------------------------------------------------------------------------
    def getattr(self, path, fh=None):
        try:
            st = os.lstat(self._p(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        keys = ("st_atime", "st_ctime", "st_gid", "st_mode", "st_mtime", "st_nlink", "st_size", "st_uid")
        return {k: getattr(st, k) for k in keys}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._p(path))

    def statfs(self, path):
        sv = os.statvfs(self._p(path))
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files", "f_flag",
                "f_frsize", "f_namemax")
        return {k: getattr(sv, k) for k in keys}

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def utimens(self, path, times=None):
        os.utime(self._p(path), times)

    def mknod(self, path, mode, dev):
        os.mknod(self._p(path), mode, dev)
        self.created.add(path)

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)
        self.created.add(path)

    def rmdir(self, path):
        os.rmdir(self._p(path))
        self.created.discard(path)

    def unlink(self, path):
        p = self._p(path)
        ino = os.lstat(p).st_ino
        os.unlink(p)
        self.created.discard(path)
        self.undo.pop(ino, None)
        self.paths.pop(ino, None)

    def rename(self, old, new):
        po, pn = self._p(old), self._p(new)
        try:
            replaced = os.lstat(pn).st_ino
        except FileNotFoundError:
            replaced = None
        os.rename(po, pn)
        if replaced is not None:
            self.undo.pop(replaced, None)
            self.paths.pop(replaced, None)
        moved = {c for c in self.created if c == old or c.startswith(old + "/")}
        self.created -= moved
        if replaced is None:
            # A new name in the target directory: durable with that directory's next fsync.
            self.created |= {new + c[len(old):] for c in moved}
        for ino, p in list(self.paths.items()):
            if p == po or p.startswith(po + "/"):
                self.paths[ino] = pn + p[len(po):]

    def fsyncdir(self, path, datasync, fh):
        self.created = {c for c in self.created if os.path.dirname(c) != path}
        return 0

    def opendir(self, path):
        return 0

    # -- data ------------------------------------------------------------------------------------
    def _track(self, fd, path):
        st = os.fstat(fd)
        self.paths[st.st_ino] = self._p(path)
        return st

    def _before_change(self, fd, path, offset, length):
        """Keeps the bytes [offset, offset+length) that the last sync made durable."""
        st = self._track(fd, path)
        entry = self.undo.setdefault(st.st_ino, {"size": st.st_size, "undo": []})
        end = min(offset + length, entry["size"])
        if offset < end:
            entry["undo"].append((offset, os.pread(fd, end - offset, offset)))

    def _flags(self, flags):
        keep = flags & ~(os.O_WRONLY | os.O_RDONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_TRUNC)
        return keep | os.O_RDWR

    def create(self, path, mode, fi=None):
        fd = os.open(self._p(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        self.created.add(path)
        self._track(fd, path)
        return fd

    def open(self, path, flags):
        try:
            fd = os.open(self._p(path), self._flags(flags))
        except PermissionError:
            fd = os.open(self._p(path), os.O_RDONLY)
        if flags & os.O_TRUNC:
            self._before_change(fd, path, 0, os.fstat(fd).st_size)
            os.ftruncate(fd, 0)
        return fd

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._before_change(fh, path, offset, len(data))
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        fd = fh if fh is not None else os.open(self._p(path), os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if length < size:
                self._before_change(fd, path, length, size - length)
            else:
                self._track(fd, path)
                self.undo.setdefault(os.fstat(fd).st_ino, {"size": size, "undo": []})
            os.ftruncate(fd, length)
        finally:
            if fh is None:
                os.close(fd)

    def fsync(self, path, datasync, fh):
        self.undo.pop(os.fstat(fh).st_ino, None)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    # -- the cut ---------------------------------------------------------------------------------
    def lose_unsynced(self):
        """Applies the undo logs and removes unsynced creations; returns (bytes, entries)."""
        restored = 0
        for ino, entry in self.undo.items():
            path = self.paths.get(ino)
            if path is None or not os.path.exists(path):
                continue
            fd = os.open(path, os.O_RDWR)
            try:
                for offset, old in reversed(entry["undo"]):
                    os.pwrite(fd, old, offset)
                    restored += len(old)
                restored += max(0, os.fstat(fd).st_size - entry["size"])
                os.ftruncate(fd, entry["size"])
            finally:
                os.close(fd)
        removed = 0
        for rel in sorted(self.created, key=len):
            p = self._p(rel)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
            elif os.path.lexists(p):
                os.unlink(p)
                removed += 1
        return restored, removed

    def init(self, path):
        print("ready", flush=True)
        threading.Thread(target=self._control, daemon=True).start()

    def _control(self):
        line = sys.stdin.readline()
        self.cut = line.strip() == "cut"
        self.unmounting = True
        subprocess.run(["fusermount", "-u", "-z", self.mountpoint], check=False)


def main():
    backing, mountpoint = sys.argv[1], sys.argv[2]
    fs = PowerCutFS(backing, mountpoint)
    try:
        FUSE(fs, mountpoint, foreground=True, nothreads=True, default_permissions=True)
    except RuntimeError:
        if not fs.unmounting:
            raise
    if fs.cut:
        restored, removed = fs.lose_unsynced()
        print(f"cut {restored} bytes {removed} entries", flush=True)


if __name__ == "__main__":
    try:
        main()
    except FuseOSError as e:
        print(f"fuse: {errno.errorcode.get(e.errno, e.errno)}", file=sys.stderr)
        sys.exit(1)
