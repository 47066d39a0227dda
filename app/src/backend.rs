//! Where the compute side ([`crate::compute`]) runs: in a dedicated Web Worker (gloo-worker; the
//! default, so that the page never stalls while a model loads or a run steps) or on the page's own
//! thread. The page talks to both the same way: [`call`] sends a [`Request`] and gives back the
//! stream of its [`Event`]s.
//!
//! The worker is the app's own wasm module started a second time (the page's JS glue, imported by a
//! module worker): [`crate::start`] registers [`CramWorker`] there instead of mounting the page. Its
//! messages are plain JS values (serde-wasm-bindgen, [`JsCodec`]), so model bytes cross as one
//! `Uint8Array`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures_util::StreamExt;
use gloo_worker::{Codec, HandlerId, Registrable, Spawnable, Worker, WorkerBridge, WorkerScope};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;

use crate::compute;
use crate::protocol::{Event, Request};

/// Where the compute side runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A dedicated Web Worker.
    Worker,
    /// The page's own (UI) thread.
    Page,
}

impl Place {
    /// From the `<select>` value (`worker` or `page`).
    pub fn parse(s: &str) -> Self {
        if s == "page" { Self::Page } else { Self::Worker }
    }
}

/// Worker messages as JS values: the structured clone carries byte buffers (`serde_bytes` fields) as
/// `Uint8Array`s and everything else as plain objects.
pub struct JsCodec;

impl Codec for JsCodec {
    fn encode<I: Serialize>(input: I) -> JsValue {
        let serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
        input.serialize(&serializer).expect("a worker message that cannot be written as a JS value")
    }

    fn decode<O: for<'de> Deserialize<'de>>(input: JsValue) -> O {
        // A worker that panicked or could not start says so as `{ cramWorkerStopped: why }` (see
        // [`worker_stopped`]): the page stops with that message rather than wait for an answer that
        // will not come.
        if let Some(why) = js_sys::Reflect::get(&input, &STOPPED.into()).ok().and_then(|v| v.as_string()) {
            panic!("the Web Worker stopped: {why}");
        }
        serde_wasm_bindgen::from_value(input).unwrap_or_else(|e| panic!("a message between the page and its worker could not be read: {e}"))
    }
}

/// The key of the message a worker that stops sends instead of an answer.
const STOPPED: &str = "cramWorkerStopped";

/// In the worker: tells the page that the worker stops (a panic), so that the page stops too.
pub fn worker_stopped(why: &str) {
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &STOPPED.into(), &why.into());
    let global: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let _ = global.post_message(&message);
}

/// A request with the number its events come back under.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    id: u64,
    request: Request,
}

/// The worker side: answers each request in its own task, so that Stop and token counts are heard
/// while a run steps. A lost GPU is reported under id 0.
pub struct CramWorker {
    page: Rc<Cell<Option<HandlerId>>>,
}

impl Worker for CramWorker {
    type Message = ();
    type Input = Envelope;
    type Output = (u64, Event);

    fn create(scope: &WorkerScope<Self>) -> Self {
        let page: Rc<Cell<Option<HandlerId>>> = Rc::default();
        let (to, scope) = (page.clone(), scope.clone());
        compute::watch_gpu_loss(Rc::new(move |event| {
            if let Some(who) = to.get() {
                scope.respond(who, (0, event));
            }
        }));
        Self { page }
    }

    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}

    fn connected(&mut self, _scope: &WorkerScope<Self>, who: HandlerId) {
        self.page.set(Some(who));
    }

    fn received(&mut self, scope: &WorkerScope<Self>, Envelope { id, request }: Envelope, who: HandlerId) {
        self.page.set(Some(who));
        let scope = scope.clone();
        spawn_local(compute::handle(request, Rc::new(move |event| scope.respond(who, (id, event)))));
    }
}

/// In the worker: starts answering the page.
pub fn register_worker() {
    CramWorker::registrar().encoding::<JsCodec>().register();
}

thread_local! {
    /// The page's worker, once spawned (or why it could not be).
    static WORKER: RefCell<Option<Result<WorkerBridge<CramWorker>, String>>> = const { RefCell::new(None) };
    /// Requests waiting for events, by id.
    static PENDING: RefCell<HashMap<u64, UnboundedSender<Event>>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    /// Who hears events nobody asked for (a lost GPU).
    static UNASKED: RefCell<Option<compute::Emit>> = const { RefCell::new(None) };
}

/// On the page: `on_event` hears what the compute side says unasked ([`Event::GpuLost`]), from the
/// worker and from the page's own compute side.
pub fn on_unasked(on_event: impl Fn(Event) + 'static) {
    UNASKED.with(|u| *u.borrow_mut() = Some(Rc::new(on_event)));
    compute::watch_gpu_loss(Rc::new(|event| deliver(0, event)));
}

/// Starts the worker (once): a module worker whose loader imports the page's own JS glue (which
/// `<link rel="modulepreload">` names) and starts it on the page's wasm (trunk names it after the
/// glue). A loader that cannot start the module says so ([`worker_stopped`]'s message), which stops
/// the page with that message ([`JsCodec`]). Err: why there is no worker (the page then computes on its own thread).
pub fn start_worker() -> Result<(), String> {
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        let worker = w.get_or_insert_with(|| {
            loader_url().map(|url| CramWorker::spawner().callback(|(id, event)| deliver(id, event)).with_loader(true).encoding::<JsCodec>().spawn(&url))
        });
        worker.as_ref().map(|_| ()).map_err(Clone::clone)
    })
}

/// A blob URL of the worker's loader module.
fn loader_url() -> Result<String, String> {
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let link = document.query_selector("link[rel=modulepreload][href$='.js']").ok().flatten().ok_or("the page does not name its JS module")?;
    let glue = link.unchecked_into::<web_sys::HtmlLinkElement>().href();
    let wasm = format!("{}_bg.wasm", glue.trim_end_matches(".js"));
    let loader = format!(
        "import init from {glue:?};\n\
         try {{ await init({{ module_or_path: {wasm:?} }}); }} catch (e) {{ postMessage({{ {STOPPED}: `cannot start the app's module: ${{e}}` }}); }}\n"
    );
    let parts = js_sys::Array::of1(&loader.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(crate::loading::js_error)?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(crate::loading::js_error)
}

fn deliver(id: u64, event: Event) {
    if id == 0 {
        if let Some(f) = UNASKED.with(|u| u.borrow().clone()) {
            f(event);
        }
        return;
    }
    let last = event.is_last();
    let sender = PENDING.with(|p| if last { p.borrow_mut().remove(&id) } else { p.borrow().get(&id).cloned() });
    if let Some(sender) = sender {
        let _ = sender.unbounded_send(event);
    }
}

/// Sends `request` to the compute side at `place`; its events arrive on the stream, which ends after
/// the last ([`Event::is_last`]).
pub fn call(place: Place, request: Request) -> UnboundedReceiver<Event> {
    let (sender, events) = unbounded();
    let id = NEXT_ID.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    PENDING.with(|p| p.borrow_mut().insert(id, sender));
    match place {
        Place::Page => spawn_local(compute::handle(request, Rc::new(move |event| deliver(id, event)))),
        Place::Worker => {
            let sent = WORKER.with(|w| match w.borrow().as_ref() {
                Some(Ok(bridge)) => {
                    bridge.send(Envelope { id, request });
                    Ok(())
                }
                Some(Err(why)) => Err(why.clone()),
                None => Err("the worker was not started".into()),
            });
            if let Err(why) = sent {
                deliver(id, Event::Failed(format!("no Web Worker: {why}")));
            }
        }
    }
    events
}

/// [`call`], waiting for the last event only.
pub async fn ask(place: Place, request: Request) -> Event {
    let mut events = call(place, request);
    let mut last = Event::Failed("the compute side went away".into());
    while let Some(event) = events.next().await {
        last = event;
    }
    last
}
