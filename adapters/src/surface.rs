//! The client surface, written once: [`client_surface!`] emits the `Client`, `Events` and
//! `Subscription` types with every method, for the async API (`crate::Client`) and the
//! blocking one (`crate::blocking::Client`). The two differ only in how they wait for the
//! driver's answer (`recv_async().await` or `recv()`), so they cannot drift apart: a method
//! added here exists on both, with the same name, arguments, result and documentation.
//!
//! What each flavor adds by hand is only how a stream is consumed: `async fn next` on the async
//! `Events` and `Subscription`; `Iterator` and `next_timeout` on the blocking ones.
//!
//! The doc examples are written once too, and rendered for each flavor with its own type and
//! with or without `.await` ([`doc_example!`]), so both flavors' examples compile as doctests.

/// A doc example of a client method for one flavor: a hidden `fn` (or `async fn`) with
/// `client: $client` in scope, the given lines, and a hidden `Ok(())`. The function is never
/// called, so the doctest needs no server.
macro_rules! doc_example {
    ($fn_kw:expr, $client:expr; $($line:expr),+ $(,)?) => {
        concat!(
            "\n\n# Examples\n\n```\n",
            "# use resp_sentinel::{cmd, FromValue, Value};\n",
            "# ", $fn_kw, " fn example(client: ", $client,
            ") -> Result<(), Box<dyn std::error::Error>> {\n",
            $($line, "\n",)+
            "# Ok(())\n# }\n```"
        )
    };
}
pub(crate) use doc_example;

/// Emits the client types for one flavor.
///
/// `$flavor` names it in the docs and `$client` is the client's path in doc examples, which
/// write `$await` (`".await"` or `""`) where a call is awaited; `$($async_)?` is `async` or
/// nothing; `$recv` is the method that waits on a channel or a reply slot (`recv_async` or `recv`)
/// and `$($aw)*` what follows it (`.await` or nothing).
macro_rules! client_surface {
    ($flavor:literal, $client:literal, $await:literal, $($async_:ident)?; $recv:ident; $($aw:tt)*) => {
        #[doc = concat!(
            "A ", $flavor, " connection to the current master (or a replica) of one service, ",
            "kept right through failovers.\n\n",
            "Cheap to clone, `Send + Sync`: every clone shares one driver and its connections, ",
            "which close when the last clone is dropped. The blocking and async clients have ",
            "the same methods; async ones return futures."
        )]
        #[derive(Clone)]
        pub struct Client {
            pub(crate) handle: $crate::handle::Shared,
        }

        impl Client {
            /// Sends `cmd` and converts the reply into `T`; an error reply is
            /// [`Error::Server`]. A command the server never saw is retried on the new master
            /// after a failover; one that was sent and lost is not: it fails with
            /// [`Error::ConnectionLost`] (see [`Client::query_idempotent`]).
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                concat!(r#"let visits: i64 = client.query(cmd("INCRBY").arg("visits").arg(5))"#, $await, r#"?;"#),
                concat!(r#"let name: Option<String> = client.query(cmd("HGET").arg("user:1").arg("name"))"#, $await, r#"?;"#),
                r#"let (a, b): (Option<String>, Option<String>) ="#,
                concat!(r#"    client.query(cmd("MGET").arg("a").arg("b"))"#, $await, r#"?;"#),
            )]
            pub $($async_)? fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
                let rx = self.handle.submit_one(cmd, $crate::SubmitOptions::default());
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// Like [`Client::query`], but the command may be sent again if the connection dies
            /// before its reply arrives: only for commands that are safe to run twice.
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"// Safe to run twice, so re-sent if the connection dies before the reply:"#,
                concat!(r#"let tags: Vec<String> = client.query_idempotent(cmd("SMEMBERS").arg("tags"))"#, $await, r#"?;"#),
            )]
            pub $($async_)? fn query_idempotent<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
                let rx = self.handle.submit_one(cmd, $crate::SubmitOptions::idempotent());
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// Like [`Client::query`], with this command's own options: its reply timeout
            /// (instead of the configured `command_timeout`) and whether it is idempotent, e.g.
            /// `SubmitOptions::default().with_timeout(Duration::from_millis(50))`.
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"use resp_sentinel::SubmitOptions;"#,
                r#"use std::time::Duration;"#,
                r#""#,
                r#"// BLPOP blocks for up to 25 s: give it 30 s, whatever `command_timeout` says."#,
                r#"let wait = SubmitOptions::default().with_timeout(Duration::from_secs(30));"#,
                r#"let job: Option<(String, String)> ="#,
                concat!(r#"    client.query_with(cmd("BLPOP").arg("jobs").arg(25), wait)"#, $await, r#"?;"#),
                r#"// Read one's own write from the master while `Config::read_from` sends reads to replicas."#,
                concat!(r#"client.set("profile:7", "new")"#, $await, r#"?;"#),
                r#"let fresh: Option<String> ="#,
                concat!(r#"    client.query_with(cmd("GET").arg("profile:7"), SubmitOptions::master_only())"#, $await, r#"?;"#),
            )]
            pub $($async_)? fn query_with<T: FromValue>(
                &self,
                cmd: Cmd,
                opts: $crate::SubmitOptions,
            ) -> Result<T, Error> {
                let rx = self.handle.submit_one(cmd, opts);
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// Sends the commands as one unit: written back to back, never interleaved with
            /// other callers' commands, one round trip, and answered once with the replies
            /// in order (error replies stay in the vector as [`Value::Error`]). Not atomic on
            /// the server (other clients' commands may run between them): use
            /// [`Client::transaction`] for that. A pipeline never written is sent whole to
            /// the new master after a failover; one written and then lost fails as a unit
            /// with [`Error::ConnectionLost`].
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"let replies: Vec<Value> = client"#,
                concat!(r#"    .pipeline([cmd("SET").arg("a").arg(1), cmd("INCR").arg("a"), cmd("GET").arg("a")])"#, $await, r#"?;"#),
                r#"let a = i64::from_value(replies[1].clone())?; // an error reply converts into an error"#,
                r#"assert_eq!(a, 2);"#,
            )]
            pub $($async_)? fn pipeline(
                &self,
                cmds: impl IntoIterator<Item = Cmd>,
            ) -> Result<Vec<Value>, Error> {
                let work = $crate::driver::Work::Batch(cmds.into_iter().collect());
                let rx = self.handle.submit(work, $crate::SubmitOptions::default());
                match self.handle.settle(rx.$recv()$($aw)*)? {
                    Value::Array(replies) => Ok(replies),
                    other => Err(Error::Conversion(
                        resp_sentinel_core::ConversionError::UnexpectedType {
                            expected: "the array of a pipeline's replies",
                            got: resp_sentinel_core::convert::type_name(&other),
                        },
                    )),
                }
            }

            /// Like [`Client::pipeline`], converting the replies into `T`: a tuple of one type
            /// per command (`(u64, Option<String>)`), or a `Vec` of one type; an error reply
            /// among them fails the conversion.
            pub $($async_)? fn pipeline_as<T: FromValue>(
                &self,
                cmds: impl IntoIterator<Item = Cmd>,
            ) -> Result<T, Error> {
                let work = $crate::driver::Work::Batch(cmds.into_iter().collect());
                let rx = self.handle.submit(work, $crate::SubmitOptions::default());
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// Runs the commands atomically: `MULTI`, the commands, `EXEC`, sent as one unit on
            /// the shared connection, and converts `EXEC`'s array of replies into `T` (e.g.
            /// `Vec<Value>`, or `Vec<i64>`). When the server discards the transaction
            /// (`EXECABORT`: a command was refused at queue time) the result is
            /// [`Error::Server`] with that command's error. Raw `MULTI`, `EXEC`, `DISCARD`,
            /// `WATCH` and `UNWATCH` are refused by [`Client::query`] with [`Error::Rejected`]
            /// (they would change the shared connection for every caller).
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"let (order, ()): (i64, ()) = client"#,
                concat!(r#"    .transaction([cmd("INCR").arg("orders"), cmd("SET").arg("last_order_by").arg("ana")])"#, $await, r#"?;"#),
            )]
            pub $($async_)? fn transaction<T: FromValue>(
                &self,
                cmds: impl IntoIterator<Item = Cmd>,
            ) -> Result<T, Error> {
                let work = $crate::driver::Work::Transaction(cmds.into_iter().collect());
                let rx = self.handle.submit(work, $crate::SubmitOptions::default());
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// The master the client writes to now, once one has been verified; `None` before
            /// that, while it moves, or once the client is closed.
            pub $($async_)? fn master_addr(&self) -> Option<Addr> {
                self.handle.master_addr().$recv()$($aw)*.ok().flatten()
            }

            /// Lifecycle events from now on, in order (ready, failover started, master
            /// changed...); the stream ends when the client is closed.
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"use resp_sentinel::core::sentinel::Event;"#,
                r#""#,
                r#"let mut events = client.events();"#,
                concat!(r#"while let Some(event) = events.next()"#, $await, r#" {"#),
                r#"    match event {"#,
                r#"        Event::FenceRaised { old, .. } => println!("failover of {old}: writes held"),"#,
                r#"        Event::Ready { addr, role, .. } => println!("ready on {addr} ({role:?})"),"#,
                r#"        _ => {}"#,
                r#"    }"#,
                r#"}"#,
            )]
            pub fn events(&self) -> Events {
                Events {
                    rx: self.handle.events(),
                }
            }

            /// Subscribes to `channels`; the subscription survives failovers (it is renewed on
            /// every new master). Fails with [`Error::Closed`] when the client is closed (or
            /// its runtime stopped). This result is also where a subscription the server
            /// refuses is reported; the state machine renews subscriptions on its own and does
            /// not report refusals yet, so today `Closed` is the only error.
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                concat!(r#"let mut news = client.subscribe(&["news"])"#, $await, r#"?;"#),
                concat!(r#"client.publish("news", "hello")"#, $await, r#"?;"#),
                concat!(r#"while let Some(message) = news.next()"#, $await, r#" {"#),
                r#"    println!("{}", String::from_utf8_lossy(&message.payload));"#,
                r#"}"#,
            )]
            pub $($async_)? fn subscribe<S: AsRef<[u8]>>(
                &self,
                channels: &[S],
            ) -> Result<Subscription, Error> {
                self.open_subscription(PubSubOp::Subscribe, channels)$($aw)*
            }

            /// Subscribes to channel patterns (`news.*`); like [`Client::subscribe`].
            pub $($async_)? fn psubscribe<S: AsRef<[u8]>>(
                &self,
                patterns: &[S],
            ) -> Result<Subscription, Error> {
                self.open_subscription(PubSubOp::PSubscribe, patterns)$($aw)*
            }

            /// Subscribes to sharded channels (`SSUBSCRIBE`, Redis 7); their messages
            /// (`SPUBLISH`) arrive with `sharded` set; like [`Client::subscribe`].
            pub $($async_)? fn ssubscribe<S: AsRef<[u8]>>(
                &self,
                channels: &[S],
            ) -> Result<Subscription, Error> {
                self.open_subscription(PubSubOp::SSubscribe, channels)$($aw)*
            }

            /// Stops delivering messages of these sharded channels to every subscription of
            /// this client.
            pub $($async_)? fn sunsubscribe<S: AsRef<[u8]>>(&self, channels: &[S]) {
                self.handle.unsubscribe(PubSubOp::SUnsubscribe, channels);
            }

            /// Registers a subscription with the driver and waits for the server's confirmation;
            /// the `Subscription` exists first, so a refusal releases what it asked for.
            $($async_)? fn open_subscription<S: AsRef<[u8]>>(
                &self,
                op: PubSubOp,
                names: &[S],
            ) -> Result<Subscription, Error> {
                let (rx, ack, id) = self.handle.subscribe(op, names);
                let sub = Subscription {
                    rx,
                    id,
                    handle: self.handle.clone(),
                };
                $crate::handle::acked(ack.$recv()$($aw)*)?;
                Ok(sub)
            }

            /// Stops delivering messages of these channels to every subscription of this client.
            pub $($async_)? fn unsubscribe<S: AsRef<[u8]>>(&self, channels: &[S]) {
                self.handle.unsubscribe(PubSubOp::Unsubscribe, channels);
            }

            /// Stops delivering messages of these patterns to every subscription of this client.
            pub $($async_)? fn punsubscribe<S: AsRef<[u8]>>(&self, patterns: &[S]) {
                self.handle.unsubscribe(PubSubOp::PUnsubscribe, patterns);
            }

            /// `GET key`: `None` when the key does not exist.
            pub $($async_)? fn get<T: FromValue>(&self, key: impl Arg) -> Result<Option<T>, Error> {
                self.query(commands::get(key))$($aw)*
            }

            /// `SET key value`.
            pub $($async_)? fn set(&self, key: impl Arg, value: impl Arg) -> Result<(), Error> {
                self.query(commands::set(key, value, SetOptions::default()))$($aw)*
            }

            /// `SET` with options (expiry, `NX`/`XX`); `Ok(false)` when a condition prevented
            /// the write.
            pub $($async_)? fn set_with(
                &self,
                key: impl Arg,
                value: impl Arg,
                opts: SetOptions,
            ) -> Result<bool, Error> {
                self.query(commands::set(key, value, opts))$($aw)*
            }

            /// `DEL key...`: how many keys were removed.
            pub $($async_)? fn del<K: Arg>(&self, keys: &[K]) -> Result<u64, Error> {
                self.query(commands::del(keys))$($aw)*
            }

            /// `INCR key`: the new value.
            pub $($async_)? fn incr(&self, key: impl Arg) -> Result<i64, Error> {
                self.query(commands::incr(key))$($aw)*
            }

            /// `PEXPIRE key ms`: `false` when the key does not exist.
            pub $($async_)? fn expire(&self, key: impl Arg, ttl: Duration) -> Result<bool, Error> {
                self.query(commands::expire(key, ttl))$($aw)*
            }

            /// `PUBLISH channel message`: how many subscribers received the message.
            pub $($async_)? fn publish(
                &self,
                channel: impl Arg,
                message: impl Arg,
            ) -> Result<u64, Error> {
                self.query(commands::publish(channel, message))$($aw)*
            }

            /// `PING`.
            pub $($async_)? fn ping(&self) -> Result<(), Error> {
                self.query(commands::ping())$($aw)*
            }

            /// Sends a typed command ([`resp_sentinel_core::typed`]: strings, hashes, lists,
            /// sets, sorted sets, keys and expiry) and converts the reply to the type it names,
            /// e.g. `client.run(typed::hset("h", [("f", "v")]))` is the number of fields added.
            pub $($async_)? fn run<R: FromValue>(
                &self,
                cmd: resp_sentinel_core::typed::Typed<R>,
            ) -> Result<R, Error> {
                self.query(cmd.into_cmd())$($aw)*
            }

            /// Runs a Lua script by its SHA1 (`EVALSHA`), and in full (`EVAL`, which also
            /// loads it) when the server does not have it yet (`NOSCRIPT`, e.g. after a
            /// failover to a node that never saw it).
            pub $($async_)? fn eval<R: FromValue>(
                &self,
                script: &resp_sentinel_core::typed::Script,
                keys: &[impl Arg],
                args: &[impl Arg],
            ) -> Result<R, Error> {
                match self.query(script.evalsha::<R>(keys, args).into_cmd())$($aw)* {
                    Err(Error::Server(e)) if resp_sentinel_core::typed::is_noscript(&e.code) => {
                        self.query(script.eval::<R>(keys, args).into_cmd())$($aw)*
                    }
                    other => other,
                }
            }

            /// Iterates over the keys (`ScanOver::Keys`), or a hash's, set's or sorted set's
            /// items, matching `pattern` if given (`MATCH`), a page (`SCAN` cursor) at a time.
            /// Every page goes to the node in use (never spread to other replicas, so the
            /// cursor stays meaningful); across a failover the iteration goes on with the new
            /// master, which may repeat or skip items that changed meanwhile.
            pub fn scan(
                &self,
                over: resp_sentinel_core::typed::ScanOver,
                pattern: Option<&[u8]>,
            ) -> Scan {
                Scan {
                    client: self.clone(),
                    over,
                    pattern: pattern.map(bytes::Bytes::copy_from_slice),
                    cursor: Some(0),
                    page: std::collections::VecDeque::new(),
                }
            }

            /// A dedicated connection: exclusive to the caller, to the node this client
            /// uses, verified with `ROLE`, for connection state such as `WATCH` ... `MULTI`
            /// ... `EXEC`. It is never moved: a failover (or losing that node) ends it, and
            /// then every command on it fails with [`Error::DedicatedEnded`] (one in flight
            /// with [`Error::ConnectionLost`]); open a new one. Closed when dropped.
            #[doc = $crate::surface::doc_example!(stringify!($($async_)?), $client;
                r#"// Optimistic locking: sell one item unless the stock is gone; retried while another"#,
                r#"// client changes `stock` between WATCH and EXEC (EXEC then answers nil: `None`)."#,
                concat!(r#"let conn = client.dedicated()"#, $await, r#"?;"#),
                r#"loop {"#,
                concat!(r#"    conn.query::<()>(cmd("WATCH").arg("stock"))"#, $await, r#"?;"#),
                concat!(r#"    let stock: Option<i64> = conn.query(cmd("GET").arg("stock"))"#, $await, r#"?;"#),
                r#"    if stock.unwrap_or(0) == 0 {"#,
                concat!(r#"        conn.query::<()>(cmd("UNWATCH"))"#, $await, r#"?;"#),
                r#"        break;"#,
                r#"    }"#,
                concat!(r#"    let sold: Option<(i64,)> = conn.transaction([cmd("DECR").arg("stock")])"#, $await, r#"?;"#),
                r#"    if sold.is_some() {"#,
                r#"        break;"#,
                r#"    }"#,
                r#"}"#,
            )]
            pub $($async_)? fn dedicated(&self) -> Result<Dedicated, Error> {
                let id = self.handle.open_dedicated().$recv()$($aw)*.map_err(|_| Error::Closed)?;
                Ok(Dedicated {
                    id,
                    handle: self.handle.clone(),
                })
            }
        }

        #[doc = concat!(
            "One caller's ", $flavor, " dedicated connection, from [`Client::dedicated`]: every ",
            "command goes to that one connection, in order, and none is retried elsewhere."
        )]
        pub struct Dedicated {
            id: resp_sentinel_core::sentinel::DedicatedId,
            pub(crate) handle: $crate::handle::Shared,
        }

        impl Dedicated {
            /// Sends `cmd` on this connection (`WATCH`, `MULTI`, `EXEC`, `SELECT`... are all
            /// allowed here) and converts the reply.
            pub $($async_)? fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
                self.query_with(cmd, $crate::SubmitOptions::default())$($aw)*
            }

            /// Like [`Dedicated::query`], with this command's own reply timeout.
            pub $($async_)? fn query_with<T: FromValue>(
                &self,
                cmd: Cmd,
                opts: $crate::SubmitOptions,
            ) -> Result<T, Error> {
                let work = $crate::driver::Work::One(cmd);
                let rx = self.handle.submit_on(self.id, work, opts);
                self.handle.finish(rx.$recv()$($aw)*)
            }

            /// `MULTI`, the commands, `EXEC` as one unit here, converted from `EXEC`'s reply.
            /// After a `WATCH` on this connection, convert into an `Option` (e.g.
            /// `Option<Vec<i64>>`): `None` means a watched key changed and nothing ran.
            pub $($async_)? fn transaction<T: FromValue>(
                &self,
                cmds: impl IntoIterator<Item = Cmd>,
            ) -> Result<T, Error> {
                let work = $crate::driver::Work::Transaction(cmds.into_iter().collect());
                let rx = self.handle.submit_on(self.id, work, $crate::SubmitOptions::default());
                self.handle.finish(rx.$recv()$($aw)*)
            }
        }

        impl Drop for Dedicated {
            fn drop(&mut self) {
                self.handle.close_dedicated(self.id);
            }
        }

        /// A SCAN-family iteration, from [`Client::scan`]: pages on demand.
        pub struct Scan {
            client: Client,
            over: resp_sentinel_core::typed::ScanOver,
            pattern: Option<bytes::Bytes>,
            /// The next cursor; `None` once the iteration is complete or failed.
            cursor: Option<u64>,
            /// Items of the current page not yet handed out.
            page: std::collections::VecDeque<bytes::Bytes>,
        }

        impl Scan {
            /// The next page of items (it may be empty), or `None` once the iteration is
            /// complete. After an error the iteration ends.
            pub $($async_)? fn next_page(&mut self) -> Option<Result<Vec<bytes::Bytes>, Error>> {
                let cursor = self.cursor?;
                let page = resp_sentinel_core::typed::scan_page(
                    &self.over,
                    cursor,
                    self.pattern.as_deref(),
                    None,
                );
                let opts = $crate::SubmitOptions::master_only().with_idempotent(true);
                match self.client.query_with::<(u64, Vec<bytes::Bytes>)>(page.into_cmd(), opts)$($aw)* {
                    Ok((next, items)) => {
                        self.cursor = (next != 0).then_some(next);
                        Some(Ok(items))
                    }
                    Err(e) => {
                        self.cursor = None;
                        Some(Err(e))
                    }
                }
            }
        }

        /// Lifecycle events of one client, in order, from [`Client::events`].
        pub struct Events {
            rx: flume::Receiver<Event>,
        }

        impl Events {
            /// An event already received, without waiting; `None` when there is none (yet).
            pub fn try_next(&mut self) -> Option<Event> {
                self.rx.try_recv().ok()
            }
        }

        /// Messages of one subscription, in order, across failovers; from
        /// [`Client::subscribe`] or [`Client::psubscribe`]. It keeps the client's driver
        /// running while it lives.
        pub struct Subscription {
            rx: flume::Receiver<Message>,
            id: u64,
            handle: $crate::handle::Shared,
        }

        impl Drop for Subscription {
            /// The server is unsubscribed from what no other subscription of the client wants.
            fn drop(&mut self) {
                self.handle.release(self.id);
            }
        }

        impl Subscription {
            /// A message already received, without waiting; `None` when there is none (yet).
            pub fn try_next(&mut self) -> Option<Message> {
                self.rx.try_recv().ok()
            }
        }
    };
}
pub(crate) use client_surface;

#[cfg(test)]
mod tests {
    use crate::driver::Msg;
    use crate::error::Error;
    use crate::handle::{Handle, Shared};
    use futures_lite::future::block_on;
    use resp_sentinel_core::sentinel::{Addr, Event, Message};
    use resp_sentinel_core::ByteStr;
    use std::time::Duration;

    fn message(payload: &str) -> Message {
        Message {
            channel: ByteStr::from_static(b"news"),
            pattern: None,
            payload: ByteStr::copy_from_slice(payload.as_bytes()),
            sharded: false,
        }
    }

    /// A stand-in for the driver loop: acknowledges subscriptions and sends each two messages,
    /// sends one event to each events sink and then drops it.
    fn fake_driver() -> Shared {
        let (tx, rx) = flume::unbounded::<Msg>();
        std::thread::spawn(move || {
            while let Ok(msg) = rx.recv() {
                match msg {
                    Msg::PubSub { sink, ack, .. } => {
                        let _ = ack.send(Ok(()));
                        if let Some((_, sink)) = sink {
                            let _ = sink.send(message("1"));
                            let _ = sink.send(message("2"));
                        }
                    }
                    Msg::Events(sink) => {
                        let _ = sink.send(Event::SentinelAdded(Addr::new("s", 1)));
                    }
                    Msg::Shutdown => return,
                    _ => {}
                }
            }
        });
        Handle::new(tx, None)
    }

    /// A handle whose driver loop is gone.
    fn stopped_driver() -> Shared {
        let (tx, rx) = flume::unbounded::<Msg>();
        drop(rx);
        Handle::new(tx, None)
    }

    fn payload(m: Option<Message>) -> Option<String> {
        m.map(|m| String::from_utf8_lossy(&m.payload).into_owned())
    }

    #[test]
    fn blocking_subscription_has_next_timeout_try_next_and_an_iterator() {
        let client = crate::blocking::Client {
            handle: fake_driver(),
        };
        let mut sub = client.subscribe(&["news"]).expect("subscribed");
        assert_eq!(
            payload(sub.next_timeout(Duration::from_secs(5))).as_deref(),
            Some("1")
        );
        assert_eq!(payload(sub.next()).as_deref(), Some("2"));
        assert!(sub.next_timeout(Duration::from_millis(10)).is_none());
        assert!(sub.try_next().is_none());
    }

    #[test]
    fn blocking_events_are_our_own_type_and_end_with_the_sink() {
        let client = crate::blocking::Client {
            handle: fake_driver(),
        };
        let events: Vec<Event> = client.events().collect();
        assert_eq!(events, [Event::SentinelAdded(Addr::new("s", 1))]);
        let mut events = client.events();
        assert!(events.next_timeout(Duration::from_secs(5)).is_some());
        assert!(events.next_timeout(Duration::from_millis(10)).is_none());
    }

    #[test]
    fn async_subscription_and_events() {
        let client = crate::Client {
            handle: fake_driver(),
        };
        block_on(async {
            let mut sub = client.psubscribe(&["n*"]).await.expect("subscribed");
            assert_eq!(payload(sub.next().await).as_deref(), Some("1"));
            let mut events = client.events();
            assert!(events.next().await.is_some());
            assert!(events.next().await.is_none(), "the sink was dropped");
        });
    }

    #[test]
    fn a_closed_client_refuses_subscriptions_on_both_flavors() {
        let blocking = crate::blocking::Client {
            handle: stopped_driver(),
        };
        assert!(matches!(blocking.subscribe(&["x"]), Err(Error::Closed)));
        assert!(matches!(blocking.psubscribe(&["x*"]), Err(Error::Closed)));
        assert_eq!(blocking.ping(), Err(Error::Closed));
        assert_eq!(blocking.master_addr(), None);
        let client = crate::Client {
            handle: stopped_driver(),
        };
        block_on(async {
            assert!(matches!(client.subscribe(&["x"]).await, Err(Error::Closed)));
            assert_eq!(client.incr("k").await, Err(Error::Closed));
            assert!(client.events().next().await.is_none());
        });
    }
}
