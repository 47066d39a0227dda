//! The model a command runs on: core's [`LoadedModel`], with the name of the device it was loaded
//! on (`cpu`, `wgpu`, `cuda`, as `--device` names it), which results and reports record.

use std::ops::Deref;

use cram_core::LoadedModel;

/// A loaded model and its device's name; it reads as the [`LoadedModel`] it holds.
pub struct Model {
    lm: LoadedModel,
    /// The device's name, as `--device` gives it.
    pub device_name: String,
}

impl Model {
    /// `lm`, loaded on the device named `device_name`.
    pub fn new(lm: LoadedModel, device_name: String) -> Self {
        Self { lm, device_name }
    }

    /// Runs a Mamba's scan in `form`; `false` for a family without one.
    pub fn set_scan(&mut self, form: cram_core::models::mamba::ScanForm) -> bool {
        self.lm.model.with_scan(form).map(|m| self.lm.model = m).is_some()
    }
}

impl Deref for Model {
    type Target = LoadedModel;

    fn deref(&self) -> &LoadedModel {
        &self.lm
    }
}
