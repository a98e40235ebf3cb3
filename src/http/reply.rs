//! Response writers beyond `Json`: 201 Created with a JSON body, 204 No Content.

use salvo::oapi::{self, Components, EndpointOutRegister, Operation, ToResponse, ToSchema};
use salvo::prelude::*;
use serde::Serialize;

/// 201 with a JSON body.
pub struct Created<T>(pub T);

#[async_trait]
impl<T: Serialize + Send> Writer for Created<T> {
    async fn write(self, req: &mut Request, depot: &mut Depot, res: &mut Response) {
        res.status_code(StatusCode::CREATED);
        Json(self.0).write(req, depot, res).await;
    }
}

impl<T: ToSchema + Serialize> EndpointOutRegister for Created<T> {
    fn register(components: &mut Components, operation: &mut Operation) {
        operation.responses.insert("201", Json::<T>::to_response(components));
    }
}

/// 204 with no body.
pub struct NoContent;

#[async_trait]
impl Writer for NoContent {
    async fn write(self, _req: &mut Request, _depot: &mut Depot, res: &mut Response) {
        res.status_code(StatusCode::NO_CONTENT);
    }
}

impl EndpointOutRegister for NoContent {
    fn register(_components: &mut Components, operation: &mut Operation) {
        operation.responses.insert("204", oapi::Response::new("Done; no content."));
    }
}
