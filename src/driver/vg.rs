use super::*;
use crate::config::VgConf;
pub struct Vg {
    conf: VgConf,
}
impl Vg {
    pub fn new(conf: VgConf) -> Vg {
        Vg { conf }
    }
}
impl Driver for Vg {
    fn kind(&self) -> Kind {
        Kind::Vg
    }
    fn type_name(&self) -> &'static str {
        "disk.vg"
    }
    fn label(&self) -> String {
        self.conf.vgname.clone()
    }
    fn start(&self, _ctx: &Ctx) -> Result<Started, Failed> {
        todo!()
    }
    fn stop(&self, _ctx: &Ctx) -> Result<(), Failed> {
        todo!()
    }
    fn status(&self, _ctx: &Ctx, _deps: &Deps) -> Probe {
        todo!()
    }
}
