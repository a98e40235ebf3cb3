//! WebSocket test client: a real socket to the server, frames as JSON.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::Server;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected client.
pub struct Ws {
    socket: Socket,
    /// The `ready` frame.
    pub ready: Value,
}

impl Ws {
    /// Connects with a bearer token.
    pub async fn connect(s: &Server, token: &str) -> Ws {
        let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(req).await.expect("websocket connects");
        let mut ws = Ws { socket, ready: Value::Null };
        ws.ready = ws.expect("ready").await;
        ws
    }

    /// Connects with a one-time ticket.
    pub async fn connect_ticket(s: &Server, ticket: &str) -> Result<Ws, String> {
        let url = format!("{}/api/v1/ws?ticket={ticket}", s.base.replace("http://", "ws://"));
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => {
                let mut ws = Ws { socket, ready: Value::Null };
                ws.ready = ws.expect("ready").await;
                Ok(ws)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: Value) {
        self.socket.send(Message::text(frame.to_string())).await.unwrap();
    }

    /// Sends raw text.
    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::text(text.to_string())).await.unwrap();
    }

    /// The next text frame within `wait`, or None.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            match tokio::time::timeout(wait, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
                Ok(Some(Ok(Message::Close(c)))) => return Some(json!({"type": "closed", "code": c.map(|c| u16::from(c.code))})),
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    }

    /// Waits for the next frame of `kind`, skipping others (5 s).
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.expect_within(kind, Duration::from_secs(5)).await
    }

    /// Waits up to `wait` for the next frame of `kind`, skipping others.
    pub async fn expect_within(&mut self, kind: &str, wait: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(f) if f["type"] == kind => return f,
                Some(_) => continue,
                None => panic!("no `{kind}` frame within {wait:?}"),
            }
        }
    }

    /// True if no frame of `kind` arrives within `wait`.
    pub async fn none_of(&mut self, kind: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(f) if f["type"] == kind => return false,
                Some(_) => continue,
                None => return true,
            }
        }
    }

    /// Sends a text message and returns the ack.
    pub async fn say(&mut self, chat: &str, client_id: &str, text: &str) -> Value {
        self.send(json!({"type": "message.send", "chat_id": chat, "client_id": client_id, "content": text})).await;
        self.expect("message.ack").await
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
