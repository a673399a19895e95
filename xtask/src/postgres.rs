//! A PostgreSQL for the test suite: the one on 127.0.0.1:5432 when it
//! answers, `MIGRATE_TEST_POSTGRES` when set, otherwise a throwaway cluster
//! made with initdb (TLS on, as one test requires), stopped afterwards.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PORT: u16 = 55432;

/// A cluster this process started; stopped and deleted on drop.
#[derive(Debug)]
pub struct Throwaway {
    dir: PathBuf,
    pg_ctl: PathBuf,
    as_postgres: bool,
}

/// The URL to export as `MIGRATE_TEST_POSTGRES`, and the cluster to stop.
pub fn ensure() -> Result<(Option<String>, Option<Throwaway>), String> {
    if std::env::var_os("MIGRATE_TEST_POSTGRES").is_some() {
        return Ok((None, None));
    }
    let local: SocketAddr = "127.0.0.1:5432".parse().expect("an address");
    if TcpStream::connect_timeout(&local, Duration::from_secs(2)).is_ok() {
        return Ok((None, None));
    }
    eprintln!("PostgreSQL does not answer on 127.0.0.1:5432: starting a throwaway cluster on port {PORT}");
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| {
            "no PostgreSQL found: install it (apt-get install postgresql) or set MIGRATE_TEST_POSTGRES".to_owned()
        })?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .find(|bin| bin.join("initdb").is_file())
        .ok_or("no initdb under /usr/lib/postgresql: install postgresql or set MIGRATE_TEST_POSTGRES")?;
    let dir = std::env::temp_dir().join(format!("cargo-migrate-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // initdb refuses to run as root; the Debian package's `postgres` user can.
    let as_postgres =
        Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let cluster = Throwaway { dir: dir.clone(), pg_ctl: bin.join("pg_ctl"), as_postgres };
    if as_postgres {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir))?;
    }
    let data = dir.join("data");
    run(cluster.command(&bin.join("initdb")).arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
    ]))?;
    run(cluster
        .command(Path::new("openssl"))
        .args(["req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=localhost", "-keyout"])
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt")))?;
    run(cluster.command(Path::new("chmod")).arg("600").arg(data.join("server.key")))?;
    let options =
        format!("-p {PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c ssl=on", dir.display());
    run(cluster
        .command(&cluster.pg_ctl)
        .arg("-D")
        .arg(&data)
        .args(["-o", &options, "-l"])
        .arg(dir.join("log"))
        .args(["-w", "start"]))?;
    Ok((Some(format!("postgres://postgres@127.0.0.1:{PORT}/postgres")), Some(cluster)))
}

impl Throwaway {
    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ =
            self.command(&self.pg_ctl).arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "stop"]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("could not run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
    }
}
