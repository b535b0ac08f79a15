#!/usr/bin/python3
"""An independent reading of a Rock Ridge ISO with pycdlib, printed as the JSON lines
of `isodiff ls --json`, so that tests can compare the two entry for entry.

Usage: reference-ls.py IMAGE   (needs pycdlib: Debian's python3-pycdlib, 1.12, or
pycdlib 1.x from PyPI, checked with 1.22)

pycdlib names the TF stamps by its own order (its `access_time` is flag bit 1);
RRIP 1.12 and the Linux kernel call bit 1 the modification time, so that is what
is read as mtime here, by bit position.

pycdlib's internals differ between versions (1.12 always allocates the entries of
a record's continuation area, `ce_entries`; later versions leave it `None` when
there is none). A field this version of pycdlib cannot give (an attribute it does
not have) is left out of the entry's line and named, with the reason, under the
key `unread`, so the test compares every other field and says which it skipped.
The entry's location and type are always read: without them the script fails.
"""
import calendar
import json
import sys
import time

import pycdlib

TF_BIT_ORDER = ('creation_time', 'access_time', 'modification_time',
                'attribute_change_time', 'backup_time', 'expiration_time',
                'effective_time')


def parts(rr):
    """The record's Rock Ridge entries: those in the directory record, then those
    in its continuation areas (absent, `None`, in pycdlib after 1.12 when there
    are none)."""
    return [p for p in (rr.dr_entries, getattr(rr, 'ce_entries', None)) if p is not None]


def entry(rr, name):
    for part in parts(rr):
        rec = getattr(part, name, None)
        if rec is not None:
            return rec
    return None


# What a difference between pycdlib versions looks like: an attribute that is not
# there, or `None` where an object was.
VERSION_GAPS = (AttributeError, TypeError)


def field(out, key, read):
    """Sets `out[key]` to `read()`, or records in `out['unread']` why this version
    of pycdlib could not read it."""
    try:
        out[key] = read()
    except VERSION_GAPS as e:
        out.setdefault('unread', {})[key] = '%s: %s' % (type(e).__name__, e)


def stamp(date, long_form):
    if long_form:
        if date.year == 0:
            return None
        y, mo, d = date.year, date.month, date.dayofmonth
        frac = '.%02d' % date.hundredthsofsecond
    else:
        y, mo, d = 1900 + date.years_since_1900, date.month, date.day_of_month
        frac = ''
    off = date.gmtoffset
    if off > 52 or off < -48:
        off = 0
    secs = calendar.timegm((y, mo, d, date.hour, date.minute, date.second)) - off * 15 * 60
    t = time.gmtime(secs)
    return time.strftime('%Y-%m-%dT%H:%M:%S', t) + frac + 'Z'


def symlink_target(rr):
    # pycdlib's own symlink_path() loses a root component (a link to "/" reads as
    # ""), so the components it parsed are joined here as the Linux kernel does.
    out = b''
    pending_slash = False
    for rec in [sl for part in parts(rr) for sl in part.sl_records]:
        for comp in rec.symlink_components:
            if pending_slash:
                out += b'/'
            root = bool(comp.flags & 0x08)
            if comp.flags & 0x02:
                out += b'.'
            elif comp.flags & 0x04:
                out += b'..'
            elif root:
                out += b'/'
            else:
                out += comp.data
            pending_slash = not root and not comp.flags & 0x01
    return out


def mtime(rec):
    rr = rec.rock_ridge
    tf = entry(rr, 'tf_record') if rr is not None else None
    if tf is not None and tf.time_flags & 0x02:
        # Flag bit 1: pycdlib's second field name.
        return stamp(getattr(tf, TF_BIT_ORDER[1]), bool(tf.time_flags & 0x80))
    return stamp(rec.date, False)


def dev(high, low):
    if high == 0 and low & ~0xff:
        return [(low >> 8) & 0xfff, (low & 0xff) | ((low >> 12) & 0xfff00)]
    return [high, low]


KINDS = {0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o020000: 'char',
         0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket'}


def line(path, rec, meta_rec):
    rr = meta_rec.rock_ridge
    px = entry(rr, 'px_record')
    mode = px.posix_file_mode
    kind = KINDS.get(mode & 0o170000, 'file')
    if rec.rock_ridge is not None and rec.rock_ridge.child_link_record_exists():
        kind = 'dir'
    out = {'location': [path], 'type': kind, 'mode': '%04o' % (mode & 0o7777)}
    field(out, 'uid', lambda: px.posix_user_id)
    field(out, 'gid', lambda: px.posix_group_id)
    if kind == 'file':
        field(out, 'size', rec.get_data_length)
    field(out, 'mtime', lambda: mtime(meta_rec))
    if kind == 'symlink':
        field(out, 'target', lambda: symlink_target(rr).decode('utf-8', 'replace'))
    field(out, 'nlink', lambda: px.posix_file_links)
    if kind in ('char', 'block'):
        try:
            pn = entry(rr, 'pn_record')
        except VERSION_GAPS as e:
            out.setdefault('unread', {})['rdev'] = '%s: %s' % (type(e).__name__, e)
        else:
            if pn is not None:
                field(out, 'rdev', lambda: dev(pn.dev_t_high, pn.dev_t_low))
    return out


def walk(path, dir_rec, out):
    for child in dir_rec.children:
        if child.is_dot() or child.is_dotdot():
            continue
        rr = child.rock_ridge
        if rr is not None and rr.relocated_record():
            continue
        name = rr.name().decode('utf-8', 'replace')
        child_path = (path.rstrip('/') + '/' + name)
        target = child
        if rr.child_link_record_exists() and rr.cl_to_moved_dr is not None:
            target = rr.cl_to_moved_dr
            # The attributes are those of the relocated directory's `.` record.
            meta = target.children[0] if target.children else target
        else:
            meta = child
        out.append(line(child_path, child, meta))
        if target.is_dir():
            walk(child_path, target, out)


def main():
    iso = pycdlib.PyCdlib()
    iso.open(sys.argv[1])
    root = iso.get_record(rr_path='/')
    # The root's Rock Ridge entries are in its `.` record.
    out = [line('/', root.children[0], root.children[0])]
    walk('/', root, out)
    for o in out:
        print(json.dumps(o, sort_keys=True))
    iso.close()


if __name__ == '__main__':
    main()
