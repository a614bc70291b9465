//! probe
wit_bindgen::generate!({
    path: "../wit",
    world: "wasio:streams/provider",
    generate_all,
});
