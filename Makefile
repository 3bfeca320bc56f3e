# Shortcuts; each target is one script in scripts/ so a machine without make
# can run the same thing with bash.
.PHONY: demo test setup check-layers sample-data bench-data fmt lint

demo:          ## install, build, load the sample data, serve on 127.0.0.1:8080
	bash scripts/demo.sh

test:          ## the whole test suite (installs PostgreSQL + PostGIS when absent)
	bash scripts/test.sh

setup:         ## system packages only
	bash scripts/setup-system.sh

check-layers:  ## fail when a crate depends on what its layer forbids
	bash scripts/check-layers.sh

sample-data:   ## regenerate the committed sample data (must not change)
	cargo run --quiet --bin forest -- sample-data --out sample-data

bench-data:    ## province-scale plot layer (~206,000 plots) in target/bench-data
	cargo run --release --quiet --bin forest -- sample-data --scale 120 --out target/bench-data

fmt:
	cargo fmt --all

lint:
	cargo clippy --workspace --all-targets -- -D warnings
