use super::*;
use crate::config::AppConf;
pub struct App {
    conf: AppConf,
    dir: PathBuf,
}
impl App {
    pub fn new(conf: AppConf, svc: &SvcInfo) -> App {
        let dir = conf
            .dir
            .clone()
            .unwrap_or_else(|| svc.paths.launcher_dir(&svc.name));
        App { conf, dir }
    }
}
impl Driver for App {
    fn kind(&self) -> Kind {
        Kind::App
    }
    fn type_name(&self) -> &'static str {
        "app"
    }
    fn label(&self) -> String {
        let _ = (&self.conf, &self.dir);
        "app".into()
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
