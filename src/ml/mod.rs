//! The insights model: the ONNX file of `models/` run by `ort` on its pure-Rust tract backend,
//! the features it reads ([`features`]) and the rules that turn its outputs and the student's own
//! statistics into insights ([`insights`]). Pure: data in, numbers and texts out; the service
//! reads the logs and stores the results.

pub mod features;
pub mod insights;

use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use features::{GOAL_FEATURES, USER_FEATURES};

/// The model that ships in the binary.
const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/insights.onnx");
/// Its card in numbers (written by `models/train.py` beside the model).
const EMBEDDED_META: &str = include_str!("../../models/insights.json");

/// What `models/train.py` writes beside the model.
#[derive(Clone, Debug, Deserialize)]
pub struct ModelMeta {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// What it was trained on, in plain words.
    pub trained_on: String,
    /// SHA-256 of the ONNX file (hex).
    pub sha256: String,
    /// Input features of a student, in input order.
    pub user_features: Vec<FeatureSpec>,
    /// Input features of a goal, in input order.
    pub goal_features: Vec<FeatureSpec>,
}

/// One input of the model.
#[derive(Clone, Debug, Deserialize)]
pub struct FeatureSpec {
    /// Name (the server's name for the same feature).
    pub name: String,
}

/// What the model says about a batch of students and a batch of goals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs {
    /// Probability of a burnout-like episode in the next 14 days, per student.
    pub burnout: Vec<f32>,
    /// Each feature's share of the burnout log-odds (standardised value × weight), per student.
    pub burnout_contributions: Vec<Vec<f32>>,
    /// Study minutes expected next week, per student.
    pub next_week_minutes: Vec<f32>,
    /// Each feature's share of the forecast in minutes, per student.
    pub forecast_contributions: Vec<Vec<f32>>,
    /// Probability of reaching the target by the end date, per goal.
    pub goal_on_time: Vec<f32>,
    /// Each goal feature's share of the goal log-odds, per goal.
    pub goal_contributions: Vec<Vec<f32>>,
}

/// A loaded model. Inference takes a lock (the session is not shared between runs); one run of
/// a student with their goals takes microseconds.
pub struct Model {
    session: Mutex<ort::session::Session>,
    /// Its card.
    pub meta: ModelMeta,
    /// Where it came from (`embedded` or a path).
    pub source: String,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("meta", &self.meta).field("source", &self.source).finish()
    }
}

impl Model {
    /// The model inside the binary (`path` empty) or the file at `path` with its card beside it
    /// (`insights.json`, as `models/train.py` writes them). The file's SHA-256 must match the card.
    /// The error says what is wrong and how to fix it.
    pub fn load(path: &str) -> Result<Self, String> {
        let (bytes, meta, source) = if path.is_empty() {
            (EMBEDDED_MODEL.to_vec(), EMBEDDED_META.to_string(), "embedded".to_string())
        } else {
            let p = Path::new(path);
            let card = p.with_file_name("insights.json");
            let bytes = std::fs::read(p).map_err(|e| {
                format!("cannot read the insights model {path} ({e}); set insights.model_path to the insights.onnx written by models/train.py, or leave it empty for the built-in model")
            })?;
            let meta = std::fs::read_to_string(&card)
                .map_err(|e| format!("cannot read {} ({e}); models/train.py writes it beside insights.onnx: copy both", card.display()))?;
            (bytes, meta, path.to_string())
        };
        let meta: ModelMeta = serde_json::from_str(&meta).map_err(|e| format!("the model card of {source} is not valid ({e})"))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if sha != meta.sha256 {
            return Err(format!(
                "the insights model {source} is corrupt or does not match its card (sha256 {sha}, card says {}); copy insights.onnx and insights.json again from one run of models/train.py",
                meta.sha256
            ));
        }
        check_inputs("student", &meta.user_features, &USER_FEATURES)?;
        check_inputs("goal", &meta.goal_features, &GOAL_FEATURES)?;
        let session = session(&bytes)
            .map_err(|e| format!("the insights model {source} cannot be loaded ({e}); regenerate it with models/train.py"))?;
        let model = Self { session: Mutex::new(session), meta, source };
        // One run at load time: a model that loads but cannot run is refused now, not per request.
        model
            .run(&[[0.0; USER_FEATURES.len()]], &[[0.0; GOAL_FEATURES.len()]])
            .map_err(|e| format!("the insights model {} does not run ({e})", model.source))?;
        Ok(model)
    }

    /// Runs the model on students and goals (each at least one row; pass a zero row to ignore).
    pub fn run(&self, users: &[[f32; USER_FEATURES.len()]], goals: &[[f32; GOAL_FEATURES.len()]]) -> Result<Outputs, String> {
        use ort::value::Tensor;
        let flat = |rows: &[[f32; USER_FEATURES.len()]]| rows.iter().flatten().copied().collect::<Vec<f32>>();
        let u = Tensor::from_array(([users.len(), USER_FEATURES.len()], flat(users))).map_err(|e| e.to_string())?;
        let g = Tensor::from_array(([goals.len(), GOAL_FEATURES.len()], goals.iter().flatten().copied().collect::<Vec<f32>>()))
            .map_err(|e| e.to_string())?;
        let mut session = self.session.lock().map_err(|_| "the model lock is poisoned".to_string())?;
        let out = session.run(ort::inputs!["user" => u, "goal" => g]).map_err(|e| e.to_string())?;
        let column = |name: &str| -> Result<Vec<f32>, String> {
            let (_, data) = out.get(name).ok_or(format!("no output {name}"))?.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
            Ok(data.to_vec())
        };
        let rows =
            |name: &str, width: usize| -> Result<Vec<Vec<f32>>, String> { Ok(column(name)?.chunks(width).map(<[f32]>::to_vec).collect()) };
        Ok(Outputs {
            burnout: column("burnout_probability")?,
            burnout_contributions: rows("burnout_contributions", USER_FEATURES.len())?,
            next_week_minutes: column("next_week_minutes")?,
            forecast_contributions: rows("forecast_contributions", USER_FEATURES.len())?,
            goal_on_time: column("goal_on_time_probability")?,
            goal_contributions: rows("goal_contributions", GOAL_FEATURES.len())?,
        })
    }
}

fn check_inputs(what: &str, card: &[FeatureSpec], ours: &[features::Feature]) -> Result<(), String> {
    let theirs: Vec<&str> = card.iter().map(|f| f.name.as_str()).collect();
    let ours: Vec<&str> = ours.iter().map(|f| f.name).collect();
    if theirs != ours {
        return Err(format!(
            "the model expects {what} features {theirs:?}, this server computes {ours:?}; use a model trained by this version's models/train.py"
        ));
    }
    Ok(())
}

/// The process's one ONNX environment (ort allows one), on the tract backend.
fn environment() -> Result<&'static ort::environment::Environment, String> {
    static ENV: std::sync::OnceLock<Result<ort::environment::Environment, String>> = std::sync::OnceLock::new();
    ENV.get_or_init(|| {
        ort::set_api(ort_tract::api());
        ort::init().with_name("friend").build().map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn session(bytes: &[u8]) -> Result<ort::session::Session, String> {
    let env = environment()?;
    ort::session::Session::builder(env).and_then(|mut b| b.commit_from_memory(bytes)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> serde_json::Value {
        serde_json::from_str(include_str!("../../models/fixtures.json")).unwrap()
    }

    fn rows<const N: usize>(v: &serde_json::Value) -> Vec<[f32; N]> {
        v.as_array().unwrap().iter().map(|r| std::array::from_fn(|i| r[i].as_f64().unwrap() as f32)).collect()
    }

    fn flat(v: &serde_json::Value) -> Vec<f32> {
        v.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32)).collect()
    }

    #[test]
    fn inference_matches_onnxruntime_on_the_fixtures() {
        let fx = fixtures();
        let m = Model::load("").expect("the built-in model loads");
        let out = m.run(&rows::<15>(&fx["user"]), &rows::<6>(&fx["goal"])).unwrap();
        let o = &fx["outputs"];
        let ours: [(&str, Vec<f32>); 6] = [
            ("burnout_probability", out.burnout.clone()),
            ("burnout_contributions", out.burnout_contributions.concat()),
            ("next_week_minutes", out.next_week_minutes.clone()),
            ("forecast_contributions", out.forecast_contributions.concat()),
            ("goal_on_time_probability", out.goal_on_time.clone()),
            ("goal_contributions", out.goal_contributions.concat()),
        ];
        for (name, got) in ours {
            let want = flat(&o[name]);
            assert_eq!(got.len(), want.len(), "{name}");
            for (g, w) in got.iter().zip(&want) {
                // Relative for the forecast in minutes, absolute for probabilities and log-odds.
                let tol = 1e-4 * w.abs().max(1.0);
                assert!((g - w).abs() <= tol, "{name}: {g} vs onnxruntime {w}");
            }
        }
    }

    #[test]
    fn a_missing_or_altered_model_is_refused_with_a_fix() {
        let err = Model::load("/nonexistent/insights.onnx").unwrap_err();
        assert!(err.contains("insights.model_path"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = EMBEDDED_MODEL.to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(dir.path().join("insights.onnx"), bytes).unwrap();
        std::fs::write(dir.path().join("insights.json"), EMBEDDED_META).unwrap();
        let err = Model::load(dir.path().join("insights.onnx").to_str().unwrap()).unwrap_err();
        assert!(err.contains("corrupt"), "{err}");
    }
}
