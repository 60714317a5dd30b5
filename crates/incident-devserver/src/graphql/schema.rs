//! The executable schema, built at start-up from `schema/incident-manager.graphql`.
//!
//! Every type, field, argument, default and description comes from the SDL file, so the server can
//! never drift from the schema the SDK is generated from. Fields of ordinary object types resolve
//! by name from their parent's JSON; root fields dispatch to `resolvers.rs` and
//! `subscriptions.rs`. What `_service { sdl }` answers is made in `sdl.rs`.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, Subscription, SubscriptionField, SubscriptionFieldFuture, TypeRef,
};
use async_graphql::{Name, Value};
use incident_sdl::TypeKind;

use super::error_paths::ErrorPaths;
use super::sdl::federation_export;
use super::{resolvers, subscriptions};
use crate::auth::Caller;
use crate::shared::Shared;

/// The SDL the server serves, embedded at build time.
pub const SDL: &str = incident_schema::SDL;

/// The server's limits, as the real Incident Manager enforces them.
pub const MAX_DEPTH: usize = 10;
/// See [`MAX_DEPTH`].
pub const MAX_COMPLEXITY: usize = 100;

/// Builds the executable schema over `shared`.
pub(crate) fn build(shared: Arc<Shared>) -> Result<Schema, String> {
    let model = incident_sdl::Schema::parse(SDL).map_err(|e| e.to_string())?;
    let roots = &model.roots;
    let query = roots.query.clone().ok_or("the schema has no query root")?;
    let mut builder = Schema::build(
        &query,
        roots.mutation.as_deref(),
        roots.subscription.as_deref(),
    );
    for ty in model.types.values() {
        let description = ty.description.clone();
        match &ty.kind {
            TypeKind::Scalar => {
                // Built-in scalars are registered by async-graphql itself.
                if !["Int", "Float", "String", "Boolean", "ID"].contains(&ty.name.as_str()) {
                    let mut scalar = Scalar::new(&ty.name);
                    if let Some(d) = description {
                        scalar = scalar.description(d);
                    }
                    builder = builder.register(scalar);
                }
            }
            TypeKind::Enum { values } => {
                let mut e = Enum::new(&ty.name);
                for value in values {
                    let mut item = async_graphql::dynamic::EnumItem::new(&value.name);
                    if let Some(d) = &value.description {
                        item = item.description(d);
                    }
                    e = e.item(item);
                }
                if let Some(d) = description {
                    e = e.description(d);
                }
                builder = builder.register(e);
            }
            TypeKind::InputObject { fields } => {
                let mut input = InputObject::new(&ty.name);
                for field in fields {
                    input = input.field(input_value(field));
                }
                if let Some(d) = description {
                    input = input.description(d);
                }
                builder = builder.register(input);
            }
            TypeKind::Object { fields, .. } if Some(&ty.name) == roots.subscription.as_ref() => {
                let mut subscription = Subscription::new(&ty.name);
                for field in fields {
                    let name = field.name.clone();
                    let shared = shared.clone();
                    let mut f =
                        SubscriptionField::new(&field.name, type_ref(&field.ty), move |ctx| {
                            let name = name.clone();
                            let shared = shared.clone();
                            SubscriptionFieldFuture::new(async move {
                                subscriptions::resolve(&shared, &name, &args_json(&ctx)).map(relax)
                            })
                        });
                    for arg in &field.args {
                        f = f.argument(input_value(arg));
                    }
                    if let Some(d) = &field.description {
                        f = f.description(d);
                    }
                    subscription = subscription.field(f);
                }
                if let Some(d) = description {
                    subscription = subscription.description(d);
                }
                builder = builder.register(subscription);
            }
            TypeKind::Object { fields, .. } => {
                let is_root = Some(&ty.name) == roots.query.as_ref()
                    || Some(&ty.name) == roots.mutation.as_ref();
                let mut object = Object::new(&ty.name);
                for field in fields {
                    let name = field.name.clone();
                    let mut f = if is_root {
                        let shared = shared.clone();
                        Field::new(&field.name, type_ref(&field.ty), move |ctx| {
                            let name = name.clone();
                            let shared = shared.clone();
                            FieldFuture::new(async move {
                                let args = args_json(&ctx);
                                let actor = ctx.data_opt::<Caller>().map(|c| c.0.clone());
                                let json = resolvers::resolve(
                                    &shared,
                                    &name,
                                    &args,
                                    actor.as_deref().unwrap_or("anonymous"),
                                )?;
                                Ok(Some(to_field_value(Value::from_json(json)?)))
                            })
                        })
                    } else {
                        Field::new(&field.name, type_ref(&field.ty), move |ctx| {
                            FieldFuture::Value(field_of_parent(&ctx, &name))
                        })
                    };
                    for arg in &field.args {
                        f = f.argument(input_value(arg));
                    }
                    if let Some(d) = &field.description {
                        f = f.description(d);
                    }
                    object = object.field(f);
                }
                if let Some(d) = description {
                    object = object.description(d);
                }
                builder = builder.register(object);
            }
            TypeKind::Interface { .. } | TypeKind::Union { .. } => {
                return Err(format!(
                    "{} is an interface or union, which this server does not serve",
                    ty.name
                ));
            }
        }
    }
    let schema = builder
        .data(shared.clone())
        .extension(ErrorPaths)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
        .map_err(|e| e.to_string())?;
    // `_service { sdl }` answers like the real server: async-graphql's federation export of what
    // the running schema prints (no schema block, no `_service`, `_Service` or `_Any`, the
    // federation `@link` at the end). Schema tooling rebuilds the type system from it.
    let _ = shared
        .served_sdl
        .set(federation_export(&schema, roots.subscription.as_deref()));
    Ok(schema)
}

fn input_value(value: &incident_sdl::InputValue) -> InputValue {
    let mut input = InputValue::new(&value.name, type_ref(&value.ty));
    if let Some(default) = &value.default {
        input = input.default_value(default_value(default));
    }
    if let Some(d) = &value.description {
        input = input.description(d);
    }
    input
}

/// A GraphQL literal from the SDL as a value. The schema's defaults are all simple literals.
fn default_value(literal: &str) -> Value {
    match literal {
        "[]" => Value::List(Vec::new()),
        "{}" => Value::Object(Default::default()),
        "true" => Value::Boolean(true),
        "false" => Value::Boolean(false),
        "null" => Value::Null,
        text if text.starts_with('"') => Value::String(text.trim_matches('"').to_owned()),
        text => match text.parse::<i64>() {
            Ok(number) => Value::Number(number.into()),
            Err(_) => Value::Enum(Name::new(text)),
        },
    }
}

fn type_ref(ty: &incident_sdl::TypeRef) -> TypeRef {
    match ty {
        incident_sdl::TypeRef::Named(name) => TypeRef::Named(name.clone().into()),
        incident_sdl::TypeRef::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
        incident_sdl::TypeRef::NonNull(inner) => TypeRef::NonNull(Box::new(type_ref(inner))),
    }
}

/// The field's arguments as one JSON object.
fn args_json(ctx: &ResolverContext<'_>) -> serde_json::Value {
    Value::Object(ctx.args.as_index_map().clone())
        .into_json()
        .unwrap_or(serde_json::Value::Null)
}

/// Reads `name` from the parent's JSON-shaped value.
fn field_of_parent(ctx: &ResolverContext<'_>, name: &str) -> Option<FieldValue<'static>> {
    let Some(Value::Object(parent)) = ctx.parent_value.as_value() else {
        return None;
    };
    match parent.get(name) {
        None | Some(Value::Null) => None,
        Some(value) => Some(to_field_value(value.clone())),
    }
}

/// Lists become field-value lists so their object items resolve field by field.
pub(super) fn to_field_value(value: Value) -> FieldValue<'static> {
    match value {
        Value::List(items) => FieldValue::list(items.into_iter().map(to_field_value)),
        Value::Null => FieldValue::NULL,
        other => FieldValue::value(other),
    }
}

/// Lets a `'static` stream serve where async-graphql asks for one tied to the request.
fn relax<'a>(
    stream: futures::stream::BoxStream<'static, async_graphql::Result<FieldValue<'static>>>,
) -> impl futures::Stream<Item = async_graphql::Result<FieldValue<'a>>> + 'a {
    use futures::StreamExt;
    fn shorten<'a>(value: FieldValue<'static>) -> FieldValue<'a> {
        value
    }
    stream.map(|item| item.map(shorten))
}
