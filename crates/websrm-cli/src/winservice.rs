//! `websrm agent serve --service`, `install-service` and `uninstall-service`: the agent as the
//! Windows service `websrm-agent`, through the `windows-service` crate.
//!
//! The Service Control Manager starts `websrm.exe agent serve … --service`; `main` then hands
//! the thread to the service dispatcher, which runs [`service_main`] on a thread of its own. The
//! stop and shutdown controls end the serve future as Ctrl-C does on a console.

use std::ffi::OsString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use crate::agent::{ServeOptions, serve_until, service_arguments};

/// The service's name, for `sc query websrm-agent`.
pub(crate) const SERVICE_NAME: &str = "websrm-agent";

/// Windows' `ERROR_SERVICE_DOES_NOT_EXIST`.
const DOES_NOT_EXIST: i32 = 1060;

/// Windows' `ERROR_FAILED_SERVICE_CONTROLLER_CONNECT`: not started by the Service Control
/// Manager.
const NOT_A_SERVICE: i32 = 1063;

/// The serve options, from `main`'s thread to the service's; then the outcome, back.
static SERVE: Mutex<Option<ServeOptions>> = Mutex::new(None);
static OUTCOME: Mutex<Option<Result<()>>> = Mutex::new(None);

define_windows_service!(ffi_service_main, service_main);

/// Runs the agent of `options` as the service `websrm-agent`, until the service is stopped.
pub(crate) fn run(options: ServeOptions) -> Result<()> {
    *SERVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(options);
    match service_dispatcher::start(SERVICE_NAME, ffi_service_main) {
        Ok(()) => {}
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(NOT_A_SERVICE) => {
            bail!(
                "--service is for the Service Control Manager (see `websrm agent install-service`); from a console, run `websrm agent serve` without --service"
            )
        }
        Err(e) => return Err(e).context("running as the Windows service websrm-agent"),
    }
    OUTCOME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .unwrap_or(Ok(()))
}

/// The service's entry point, on the dispatcher's thread.
fn service_main(_arguments: Vec<OsString>) {
    let outcome = run_service();
    *OUTCOME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome);
}

fn status(state: ServiceState, exit: ServiceExitCode, wait: Duration) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: exit,
        checkpoint: 0,
        wait_hint: wait,
        process_id: None,
    }
}

fn run_service() -> Result<()> {
    let options = SERVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .context("the service started without its options")?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
            stop.send_replace(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let handle = service_control_handler::register(SERVICE_NAME, handler)
        .context("registering the service's control handler")?;
    // Opening the store and finishing what a crash left pending may take a while.
    handle.set_service_status(status(
        ServiceState::StartPending,
        ServiceExitCode::NO_ERROR,
        Duration::from_secs(60),
    ))?;
    let mut stopped = stopped;
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let ready = || {
        let _ = handle.set_service_status(status(
            ServiceState::Running,
            ServiceExitCode::NO_ERROR,
            Duration::ZERO,
        ));
    };
    let served = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
        .and_then(|runtime| runtime.block_on(serve_until(options, shutdown, ready)));
    // A failure shows in `sc query websrm-agent` as SERVICE_EXIT_CODE 1.
    let exit = match &served {
        Ok(()) => ServiceExitCode::NO_ERROR,
        Err(_) => ServiceExitCode::ServiceSpecific(1),
    };
    handle.set_service_status(status(ServiceState::Stopped, exit, Duration::ZERO))?;
    served
}

/// Registers `websrm.exe agent serve … --service` (this executable, `options`' paths made
/// absolute) as the service `websrm-agent`, started at every boot as SYSTEM, creates the store's
/// folder (private) if it is missing, and starts the service.
pub(crate) fn install(options: &ServeOptions) -> Result<()> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let arguments = service_arguments(options, &cwd)?;
    let store = cwd.join(&options.store);
    let store = std::path::absolute(&store).unwrap_or(store);
    if let Some(folder) = store.parent().filter(|f| !f.exists()) {
        if let Some(parent) = folder.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        websrm_acl::create_dir(folder).with_context(|| format!("creating {}", folder.display()))?;
        println!(
            "created {} (SYSTEM and Administrators only)",
            folder.display()
        );
    }
    let executable = std::env::current_exe().context("finding websrm.exe")?;
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .context("opening the Service Control Manager (run this from an elevated prompt: Run as administrator)")?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: "websrm agent (WEB-SRM certificates for the point of sale)".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: executable.clone(),
        launch_arguments: arguments.clone(),
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service = match manager.create_service(
        &info,
        ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::QUERY_STATUS,
    ) {
        Ok(service) => service,
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(1073) => bail!(
            "the service {SERVICE_NAME} is already installed; `websrm agent uninstall-service` first to change its options"
        ),
        Err(e) => return Err(e).context("creating the service"),
    };
    service
        .set_description(
            "Gives point-of-sale software the WEB-SRM certificate lifecycle over a local JSON API.",
        )
        .context("describing the service")?;
    let command: Vec<String> = std::iter::once(executable.as_os_str())
        .chain(arguments.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    println!(
        "installed the service {SERVICE_NAME}: {}",
        command.join(" ")
    );
    service
        .start::<&str>(&[])
        .context("starting the service (`sc query websrm-agent` tells its state)")?;
    println!(
        "started; it starts with Windows from now on. `sc query {SERVICE_NAME}` shows its state; clients present the token in {}",
        websrm_agent::token_path(&store).display()
    );
    Ok(())
}

/// Stops the service `websrm-agent` if it runs, and removes it.
pub(crate) fn uninstall() -> Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("opening the Service Control Manager (run this from an elevated prompt: Run as administrator)")?;
    let service = match manager.open_service(
        SERVICE_NAME,
        ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
    ) {
        Ok(service) => service,
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(DOES_NOT_EXIST) => {
            bail!("no service {SERVICE_NAME} is installed")
        }
        Err(e) => return Err(e).context("opening the service"),
    };
    if service.query_status()?.current_state != ServiceState::Stopped {
        service.stop().context("stopping the service")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while service.query_status()?.current_state != ServiceState::Stopped {
            if Instant::now() > deadline {
                bail!(
                    "the service {SERVICE_NAME} did not stop within 30 s; see `sc query {SERVICE_NAME}`"
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        println!("stopped the service {SERVICE_NAME}");
    }
    service.delete().context("removing the service")?;
    println!(
        "removed the service {SERVICE_NAME}; the store, its key file and the token are left in place"
    );
    Ok(())
}
