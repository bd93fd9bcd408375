//! The kernel's mount table, `/proc/self/mountinfo` (proc(5)), as the fs
//! driver reads it. `mount`'s output, read before, separates its fields
//! with the spaces a mount point may contain, so an fs mounted on
//! `/srv/my data` always read down (issue 10, item 23); mountinfo escapes
//! them (`\040`).

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// The source (`/dev/mapper/vg-lv`, `srv:/export`, `tmpfs`).
    pub(crate) dev: String,
    pub(crate) mnt: String,
    pub(crate) fstype: String,
    /// The mount's own options, then the superblock's: a filesystem the
    /// kernel remounted read-only after an error says `ro` in the latter.
    pub(crate) opts: Vec<String>,
}

/// Every line that parses; the kernel writes the file, and a line it
/// would write differently one day is not worth failing a status for.
pub(crate) fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// `id parent major:minor root mnt opts [optional...] - fstype source super`
fn parse_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    // The optional fields end with a lone `-`, after the sixth field.
    let sep = 6 + fields.get(6..)?.iter().position(|f| *f == "-")?;
    let [fstype, source, sup, ..] = fields.get(sep + 1..)? else {
        return None;
    };
    let mut opts: Vec<String> = fields[5].split(',').map(String::from).collect();
    opts.extend(sup.split(',').map(String::from));
    Some(Mount {
        dev: unescape(source),
        mnt: unescape(fields[4]),
        fstype: unescape(fstype),
        opts,
    })
}

/// `\ooo` (three octal digits) is the byte it stands for: the kernel
/// writes space, tab, newline and backslash that way.
fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3');
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_escapes_and_optional_fields() {
        let text = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
98 29 253:1 / /svc1/app rw,relatime shared:55 master:3 - ext3 /dev/mapper/vgsvc1-lvappsvc1 rw
99 29 8:16 / /srv/my\\040data\\011tab ro,relatime - ext4 /dev/sdb rw,errors=remount-ro
100 29 0:50 / /data rw - nfs srv:/ex\\134port rw,vers=3
not a mountinfo line
101 29 0:51 / /short rw -
";
        let m = parse(text);
        let summary: Vec<_> = m
            .iter()
            .map(|m| (m.dev.as_str(), m.mnt.as_str(), m.fstype.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("proc", "/proc", "proc"),
                ("/dev/mapper/vgsvc1-lvappsvc1", "/svc1/app", "ext3"),
                ("/dev/sdb", "/srv/my data\ttab", "ext4"),
                ("srv:/ex\\port", "/data", "nfs"),
            ]
        );
        assert_eq!(m[2].opts, ["ro", "relatime", "rw", "errors=remount-ro"]);
    }

    #[test]
    fn only_three_octal_digits_are_an_escape() {
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("a\\089"), "a\\089");
        assert_eq!(unescape("\\"), "\\");
        assert_eq!(unescape("caf\\303\\251"), "café");
    }
}
