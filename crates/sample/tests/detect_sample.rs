//! The detector against the planted events of the sample scene series, on
//! plain grids (no GDAL): the targets of the change-detection issue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use forest_core::change::alert::PlotShape;
use forest_core::change::evaluate::evaluate;
use forest_core::change::index::{QualityCounts, Scaling};
use forest_core::change::pipeline::{indices_from_bands, QualityRule};
use forest_core::change::{self, GridSpec, Params, PlotIndex, Prior, StripSource};
use forest_core::progress::Progress;
use forest_sample::scenes::{self, SceneSeries, BOA_ADD_OFFSET};

struct Memory<'a> {
    series: &'a SceneSeries,
    index: PlotIndex<'a>,
}

impl StripSource for Memory<'_> {
    type Error = std::convert::Infallible;
    fn read(
        &mut self,
        strip: &GridSpec,
        row0: usize,
        ndvi: &mut [Vec<f32>],
        nbr: &mut [Vec<f32>],
        prior: &mut [Prior],
    ) -> Result<Vec<QualityCounts>, Self::Error> {
        let a = row0 * strip.width;
        let b = a + strip.len();
        let mut q = Vec::new();
        for (k, s) in self.series.scenes.iter().enumerate() {
            let f = |v: &[u16]| v[a..b].iter().map(|x| f32::from(*x)).collect::<Vec<f32>>();
            let scl: Vec<f32> = s.scl[a..b].iter().map(|x| f32::from(*x)).collect();
            let scaling = Scaling::Sentinel2 {
                offset: BOA_ADD_OFFSET as f32,
            };
            q.push(indices_from_bands(
                &f(&s.red),
                &f(&s.nir),
                &f(&s.swir2),
                Some((&scl, QualityRule::Scl)),
                Some(0.0),
                scaling.linear(),
                &mut ndvi[k],
                &mut nbr[k],
            ));
        }
        self.index.prior(strip, prior);
        Ok(q)
    }
}

#[test]
fn sample_series_meets_the_targets() {
    let commune = &forest_sample::generate(forest_sample::figures::SEED, 1)[0];
    let series = scenes::generate(&commune.plots, forest_sample::figures::SEED);
    let plot_shapes: Vec<PlotShape> = commune.plots.iter().map(PlotShape::of).collect();
    let params = Params::default();
    let mut src = Memory {
        series: &series,
        index: PlotIndex::new(&plot_shapes),
    };
    let out = change::run(&series.grid, 3, 1, &params, 64, &mut src, &Progress::none()).unwrap();
    let dates: Vec<_> = series.scenes.iter().map(|s| s.date).collect();
    let alerts = change::candidates(&out.changes, &series.grid, &dates, params.min_area_ha);
    let unobs: Vec<_> = out
        .unobserved
        .iter()
        .map(|c| change::polygon::outline(&c.runs, &series.grid))
        .collect();
    let shapes: Vec<_> = alerts.iter().map(|a| a.geometry.clone()).collect();
    let ev = evaluate(&series.truth, &shapes, &unobs, params.min_area_ha);
    for e in &ev.events {
        eprintln!(
            "{:24} {:10} {:6.2} ha found={} iou={:.2} unobs={:.2}",
            e.id, e.kind, e.area_ha, e.found, e.iou, e.unobserved_share
        );
    }
    for i in &ev.false_alerts {
        let a = &alerts[*i];
        eprintln!(
            "false alert: {:?} {:.2} ha {:?}",
            a.class, a.area_ha, a.confidence
        );
    }
    eprintln!(
        "offsets {:?} recall {:.3} precision {:.3} iou {:.3}",
        out.offsets, ev.recall, ev.precision, ev.iou
    );
    assert!(ev.recall >= 0.95, "recall {}", ev.recall);
    assert!(ev.precision >= 0.90, "precision {}", ev.precision);
    assert!(ev.iou >= 0.70, "iou {}", ev.iou);
    let hidden = ev
        .events
        .iter()
        .find(|e| e.id == "clearing-cloud-hidden")
        .unwrap();
    assert!(hidden.found, "the clouded half is reported unobserved");

    // classes, confidence and priority
    let index = PlotIndex::new(&plot_shapes);
    let find = |id: &str| {
        let e = ev.events.iter().find(|e| e.id == id).unwrap();
        &alerts[*e
            .alerts
            .first()
            .unwrap_or_else(|| panic!("{id} has no alert"))]
    };
    assert_eq!(find("burn-1").class, change::PixelClass::Burn);
    assert_eq!(find("degradation-1").class, change::PixelClass::Degradation);
    assert_eq!(find("clearing-3").class, change::PixelClass::Clearing);
    assert_eq!(find("clearing-3").confidence, change::Confidence::High);
    assert_eq!(find("clearing-late").confidence, change::Confidence::Low);
    let prio = |a: &change::AlertCandidate| {
        change::priority(
            a.class,
            a.confidence,
            a.area_ha,
            &index.attribute(&a.geometry),
            2026,
        )
        .score
    };
    let harvest = prio(find("harvest-1"));
    for id in [
        "clearing-1",
        "clearing-2",
        "clearing-3",
        "clearing-4",
        "clearing-5",
        "clearing-6",
        "clearing-7",
    ] {
        assert!(prio(find(id)) > harvest, "{id} ranks above the harvest");
    }
}
