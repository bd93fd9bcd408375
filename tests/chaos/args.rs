//! The runner's options. Unknown arguments are ignored: cargo passes
//! libtest's (`--test-threads=2`, `--nocapture`) to every test target.

pub(crate) struct Args {
    pub seed: u64,
    pub seed_given: bool,
    pub faults: usize,
    pub nodes: usize,
    pub max_minutes: f64,
    pub keep: bool,
    pub verbose: bool,
    /// Print the fault list the seed gives, and nothing else.
    pub plan_only: bool,
    /// libtest's `--list` (IDEs, test runners): name the test, run nothing.
    pub list: bool,
}

pub(crate) fn parse(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        seed: 0,
        seed_given: false,
        faults: 30,
        nodes: 3,
        max_minutes: 12.0,
        keep: false,
        verbose: false,
        plan_only: false,
        list: false,
    };
    let mut it = argv.peekable();
    while let Some(arg) = it.next() {
        // `--opt=value` and `--opt value` alike.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name.as_str() {
            "--seed" => {
                a.seed = parse_num(&name, &value("a number")?)?;
                a.seed_given = true;
            }
            "--faults" => a.faults = parse_num(&name, &value("a count")?)?,
            "--nodes" => a.nodes = parse_num(&name, &value("a count")?)?,
            "--max-minutes" => a.max_minutes = parse_num(&name, &value("minutes")?)?,
            "--keep" => a.keep = true,
            "--plan" => a.plan_only = true,
            "--list" => a.list = true,
            "-v" | "--verbose" => a.verbose = true,
            _ => {} // libtest's, or a test name filter
        }
    }
    if !(2..=5).contains(&a.nodes) {
        return Err(format!(
            "--nodes {}: between 2 and 5 (a failover needs a second node; node6 would take .26, p26.opensvc.com's address)",
            a.nodes
        ));
    }
    Ok(a)
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{name} {v}: not a valid number"))
}
