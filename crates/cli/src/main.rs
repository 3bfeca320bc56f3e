//! `forest`: the command line of the forest and land management service.
//! Wiring only: configuration, logging, and calls into ingest, store and api.

mod alerts;
mod commands;
mod config;
mod detect;
mod fire;
mod sample;
mod subscriptions;
mod tokens;

use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

/// Forest and land management service for Vĩnh Thông commune: forest plots,
/// owners, protection contracts and plan indicators, in an embedded
/// GeoPackage or PostGIS.
#[derive(Debug, Parser)]
#[command(name = "forest", version, about)]
struct Cli {
    /// Store: a GeoPackage path (default ./data/forest.gpkg) or a postgres:// URL.
    #[arg(long, global = true, env = "FOREST_STORE")]
    store: Option<String>,
    /// Configuration file (TOML); ./forest.toml is read when present.
    #[arg(long, global = true, env = "FOREST_CONFIG")]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, env = "FOREST_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import plots or contracts; all or nothing.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export plots in the national schema (shp, gpkg, geojson, csv).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Plan indicators: forest cover, forest area, contracts, allocation.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Year whose planting is compared with the yearly target.
        #[arg(long, env = "FOREST_REFERENCE_YEAR")]
        year: Option<i64>,
    },
    /// Create or upgrade the store's schema.
    Migrate,
    /// Serve the HTTP API.
    Serve {
        /// Listen address.
        #[arg(long, env = "FOREST_BIND")]
        bind: Option<String>,
        /// Year whose planting is compared with the yearly target.
        #[arg(long, env = "FOREST_REFERENCE_YEAR")]
        year: Option<i64>,
    },
    /// Load the sample data into the store when it is empty, then serve.
    Demo {
        /// Listen address.
        #[arg(long, env = "FOREST_BIND")]
        bind: Option<String>,
        /// Folder with the sample files.
        #[arg(long, default_value = "sample-data")]
        sample_dir: PathBuf,
    },
    /// Show one plot (key: maxa/tk/khoanh/lo, e.g. 01981/286/1/1).
    Plot {
        /// The plot key.
        key: String,
        /// Print every version, oldest first.
        #[arg(long)]
        history: bool,
        /// The version the store held on this date (YYYY-MM-DD, end of day UTC) or instant (RFC 3339).
        #[arg(long, conflicts_with = "history")]
        at: Option<String>,
    },
    /// Remote-sensing scenes: what a GeoTIFF is (date, product, bands, cloud).
    #[command(subcommand)]
    Scenes(ScenesCommand),
    /// Detect forest change (clearing, degradation, burn) between scenes and
    /// store the alerts, attributed to plots, owners and contract holders.
    Detect {
        /// GeoTIFF scenes (any order; sorted by date); none: the registered scenes.
        scenes: Vec<PathBuf>,
        /// First day of the monitoring period (default: the second-earliest scene date).
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Product of every scene when the files do not say: s2, landsat or ndvi.
        #[arg(long)]
        product: Option<String>,
        /// Band roles when the descriptions do not say, e.g. red=1,nir=2,swir2=3,scl=4.
        #[arg(long)]
        bands: Option<String>,
        /// Ground-truth events (GeoJSON): print recall, precision and IoU.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Report without writing alerts.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Daily weather for the fire-danger index.
    #[command(subcommand)]
    Weather(WeatherCommand),
    /// Fire danger: the Nesterov index and level I–V, day by day.
    Danger {
        /// How many recent days to show.
        #[arg(long, default_value_t = 14)]
        days: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Satellite hotspots (FIRMS CSV) → fire alerts.
    #[command(subcommand)]
    Hotspots(HotspotsCommand),
    /// Webhook subscriptions to alerts.
    #[command(subcommand)]
    Subscriptions(SubscriptionsCommand),
    /// Bearer tokens for the HTTP API (roles ranger, land_officer, admin).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The webhook delivery log, newest first.
    Deliveries {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The alert queue: list, show, change status.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// Write the synthetic sample data (or province-scale data with --scale).
    SampleData {
        /// Output folder.
        #[arg(long, default_value = "sample-data")]
        out: PathBuf,
        /// Number of communes (1 = Vĩnh Thông only; 120 ≈ 206,000 plots).
        #[arg(long, default_value_t = 1)]
        scale: usize,
        /// Random seed.
        #[arg(long, default_value_t = forest_sample::figures::SEED)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
enum SubscriptionsCommand {
    /// Subscribe a webhook URL to alerts; `forest serve` delivers them (signed, retried).
    Add {
        /// Where to POST.
        #[arg(long)]
        url: String,
        /// Key of the HMAC-SHA256 signature header (at least 8 characters).
        #[arg(long, env = "FOREST_WEBHOOK_SECRET")]
        secret: String,
        /// loss and/or fire (default both).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Lowest priority.
        #[arg(long)]
        min_priority: Option<i32>,
        /// Lowest confidence: low or high.
        #[arg(long)]
        min_confidence: Option<String>,
        /// Only these compartments (tk).
        #[arg(long)]
        tk: Vec<String>,
        /// Only these plots (maxa/tk/khoanh/lo).
        #[arg(long = "plot")]
        plots: Vec<String>,
        /// Only these forest owner codes (machur).
        #[arg(long = "owner")]
        owners: Vec<i64>,
    },
    /// The subscriptions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a subscription.
    Stop {
        /// Subscription number.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once (only its hash is stored).
    Create {
        /// ranger, land_officer or admin.
        #[arg(long)]
        role: String,
        /// Who holds it; recorded with every change made with it.
        #[arg(long)]
        name: String,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// The tokens (never their secrets).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Revoke {
        /// Token number.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum HotspotsCommand {
    /// Import a FIRMS hotspot CSV (VIIRS or MODIS); hotspots in or near forest become fire alerts.
    Import {
        /// The file.
        file: PathBuf,
        /// Report without writing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum WeatherCommand {
    /// Import a daily weather CSV (date, t13, rh13 or td13, rain); all or nothing.
    Import {
        /// The file.
        file: PathBuf,
        /// Check without writing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AlertsCommand {
    /// Alerts, highest priority first.
    List {
        /// Only this status (new, under_verification, confirmed, false_positive, resolved).
        #[arg(long)]
        status: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One alert with its plots, owners, contract holders and history.
    Show {
        /// Alert number.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change an alert's status: new → under_verification → confirmed | false_positive → resolved.
    Set {
        /// Alert number.
        id: i64,
        /// New status.
        status: String,
        /// What was seen or done (required).
        #[arg(long)]
        note: String,
        /// For false_positive: plantation_harvest, cloud_artefact, seasonal or other.
        #[arg(long)]
        reason: Option<String>,
        /// Who (default: $USER).
        #[arg(long)]
        actor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ScenesCommand {
    /// Register GeoTIFF scenes in the store (date, product, bands, footprint, cloud fraction);
    /// `forest detect` without files uses the registered scenes.
    Add {
        /// GeoTIFF files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Acquisition date, when neither the metadata nor the file name has it.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// s2, landsat or ndvi.
        #[arg(long)]
        product: Option<String>,
        /// Band roles, e.g. red=1,nir=2,swir2=3,scl=4.
        #[arg(long)]
        bands: Option<String>,
    },
    /// The registered scenes, by date.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what each GeoTIFF is: date and where it came from, product, band roles, cloud fraction.
    Inspect {
        /// GeoTIFF files.
        files: Vec<PathBuf>,
        /// Acquisition date, when neither the metadata nor the file name has it.
        #[arg(long)]
        date: Option<NaiveDate>,
        /// s2, landsat or ndvi.
        #[arg(long)]
        product: Option<String>,
        /// Band roles, e.g. red=1,nir=2,swir2=3,scl=4.
        #[arg(long)]
        bands: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Export plots, optionally filtered; the files appear only when complete.
    Plots {
        /// Output file (`plots.shp`, `plots.gpkg`, `plots.geojson`, `plots.csv`).
        #[arg(long)]
        out: PathBuf,
        /// shp | gpkg | geojson | csv (default: from the file extension).
        #[arg(long)]
        format: Option<String>,
        /// Only this compartment (tk).
        #[arg(long)]
        tk: Option<String>,
        /// Only this forest owner code (machur).
        #[arg(long)]
        owner: Option<i64>,
        /// Only this forest function (malr3: 1 protection, 2 special-use, 3 production).
        #[arg(long)]
        function: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a plot layer (shapefile, GeoPackage, GeoJSON).
    Plots {
        /// The file.
        file: PathBuf,
        /// Layer name (default: the first).
        #[arg(long)]
        layer: Option<String>,
        /// CRS of the file when its .prj is missing or wrong (EPSG:9213, 3405, 4326, 3857).
        #[arg(long)]
        srs: Option<String>,
        /// Check and report without writing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// TOML file mapping another schema's field names to national ones (`[fields] TEN_CHU = "churung"`).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Commune boundary layer: report land inside it that no plot covers.
        #[arg(long)]
        boundary: Option<PathBuf>,
    },
    /// Import the protection contract register (CSV, or .xlsx/.xls/.ods: first sheet), checked against the plots.
    Contracts {
        /// The file.
        file: PathBuf,
        /// Check and report without writing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (bind, year) = match &cli.command {
        Command::Serve { bind, year } => (bind.clone(), *year),
        Command::Demo { bind, .. } => (bind.clone(), None),
        Command::Stats { year, .. } => (None, *year),
        _ => (None, None),
    };
    let cfg = config::Config::load(cli.config.as_deref(), cli.store.clone(), bind, year)?;
    match cli.command {
        Command::SampleData { out, scale, seed } => {
            tokio::task::spawn_blocking(move || sample::run(&out, seed, scale)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => commands::migrate(&cfg).await,
        Command::Import(ImportCommand::Plots {
            file,
            layer,
            srs,
            dry_run,
            json,
            mapping,
            boundary,
        }) => {
            let mapping = mapping
                .map(|m| config::read_mapping(&m))
                .transpose()?
                .unwrap_or_default();
            commands::import_plots(
                &cfg,
                &file,
                commands::ImportOptions {
                    layer,
                    srs,
                    dry_run,
                    json,
                    mapping,
                    boundary,
                },
            )
            .await
        }
        Command::Import(ImportCommand::Contracts { file, dry_run }) => {
            commands::import_contracts(&cfg, &file, dry_run).await
        }
        Command::Stats { json, .. } => commands::stats(&cfg, json).await,
        Command::Export(ExportCommand::Plots {
            out,
            format,
            tk,
            owner,
            function,
        }) => commands::export_plots(&cfg, &out, format.as_deref(), tk, owner, function).await,
        Command::Plot { key, history, at } => {
            commands::plot(&cfg, &key, history, at.as_deref()).await
        }
        Command::Serve { .. } => commands::serve(&cfg).await,
        Command::Demo { sample_dir, .. } => commands::demo(&cfg, &sample_dir).await,
        Command::Weather(WeatherCommand::Import { file, dry_run }) => {
            fire::import_weather(&cfg, &file, dry_run).await
        }
        Command::Subscriptions(SubscriptionsCommand::Add {
            url,
            secret,
            kinds,
            min_priority,
            min_confidence,
            tk,
            plots,
            owners,
        }) => {
            let filter = forest_core::notify::SubscriptionFilter {
                kinds,
                min_priority,
                min_confidence,
                tk,
                plots,
                owners,
            };
            subscriptions::add(&cfg, &url, &secret, filter).await
        }
        Command::Subscriptions(SubscriptionsCommand::List { json }) => {
            subscriptions::list(&cfg, json).await
        }
        Command::Subscriptions(SubscriptionsCommand::Stop { id }) => {
            subscriptions::stop(&cfg, id).await
        }
        Command::Token(TokenCommand::Create {
            role,
            name,
            expires_days,
        }) => tokens::create(&cfg, &role, &name, expires_days).await,
        Command::Token(TokenCommand::List { json }) => tokens::list(&cfg, json).await,
        Command::Token(TokenCommand::Revoke { id }) => tokens::revoke(&cfg, id).await,
        Command::Deliveries { limit, json } => subscriptions::deliveries(&cfg, limit, json).await,
        Command::Hotspots(HotspotsCommand::Import { file, dry_run }) => {
            fire::import_hotspots(&cfg, &file, dry_run).await
        }
        Command::Danger { days, json } => fire::danger(&cfg, days, json).await,
        Command::Alerts(AlertsCommand::List { status, json }) => {
            alerts::list(&cfg, status, json).await
        }
        Command::Alerts(AlertsCommand::Show { id, json }) => alerts::show(&cfg, id, json).await,
        Command::Alerts(AlertsCommand::Set {
            id,
            status,
            note,
            reason,
            actor,
        }) => alerts::set(&cfg, id, &status, reason.as_deref(), &note, actor).await,
        Command::Scenes(ScenesCommand::Add {
            files,
            date,
            product,
            bands,
        }) => detect::add(&cfg, files, product, bands, date).await,
        Command::Scenes(ScenesCommand::List { json }) => detect::list(&cfg, json).await,
        Command::Scenes(ScenesCommand::Inspect {
            files,
            date,
            product,
            bands,
        }) => detect::inspect(files, product, bands, date).await,
        Command::Detect {
            scenes,
            since,
            product,
            bands,
            truth,
            dry_run,
            json,
        } => {
            detect::detect(
                &cfg,
                detect::DetectOptions {
                    scenes,
                    since,
                    product,
                    bands,
                    truth,
                    dry_run,
                    json,
                },
            )
            .await
        }
    }
}
