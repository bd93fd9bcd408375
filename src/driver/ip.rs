use super::*;
use crate::config::IpConf;
pub struct Ip {
    conf: IpConf,
}
impl Ip {
    pub fn new(conf: IpConf) -> Ip {
        Ip { conf }
    }
}
impl Driver for Ip {
    fn kind(&self) -> Kind {
        Kind::Ip
    }
    fn type_name(&self) -> &'static str {
        "ip"
    }
    fn label(&self) -> String {
        format!("{}@{}", self.conf.ipname, self.conf.ipdev)
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
