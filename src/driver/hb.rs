use super::*;
use crate::config::HbConf;
pub struct Hb {
    conf: HbConf,
}
impl Hb {
    pub fn new(conf: HbConf) -> Hb {
        Hb { conf }
    }
}
impl Driver for Hb {
    fn kind(&self) -> Kind {
        Kind::Hb
    }
    fn type_name(&self) -> &'static str {
        "hb.openha"
    }
    fn label(&self) -> String {
        let _ = &self.conf;
        "hb.openha".into()
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
