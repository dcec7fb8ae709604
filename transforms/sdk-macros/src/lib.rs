//! The `#[transform]` attribute of the Sluice transform SDK. Use it through
//! `sluice_transform::transform`; its documentation lives there.
//!
//! The attribute leaves the item as written (so it compiles and unit-tests
//! natively) and adds, behind `cfg(target_arch = "wasm32")`, the component
//! exports that drive it through `sluice_transform`'s runtime.
#![cfg_attr(test, allow(clippy::unwrap_used))]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Item, ItemFn, ItemImpl, ReturnType, Type};

/// Exports a transform stage. See `sluice_transform::transform`.
#[proc_macro_attribute]
pub fn transform(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    match expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the item so that one misuse does not cascade into errors about
        // a missing function or type.
        Err(err) => {
            let err = err.into_compile_error();
            quote!(#item #err).into()
        }
    }
}

/// The whole expansion, as a function of token streams so that tests can
/// drive it.
fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(attr, "#[transform] takes no arguments"));
    }
    match syn::parse2::<Item>(item)? {
        Item::Impl(imp) => expand_impl(imp),
        Item::Fn(f) => expand_fn(f),
        other => Err(syn::Error::new_spanned(
            other,
            "#[transform] goes on `impl Transform for YourStage { ... }` or on a function \
             `fn name(batch: &Batch<'_>, out: &mut Output)`",
        )),
    }
}

fn expand_impl(imp: ItemImpl) -> syn::Result<TokenStream2> {
    let Some((bang, path, _)) = &imp.trait_ else {
        return Err(syn::Error::new_spanned(
            &imp.self_ty,
            "#[transform] needs a trait impl: write `impl Transform for YourStage`",
        ));
    };
    if bang.is_some() || path.segments.last().is_none_or(|s| s.ident != "Transform") {
        return Err(syn::Error::new_spanned(path, "#[transform] goes on an impl of `sluice_transform::Transform`"));
    }
    if !imp.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &imp.generics,
            "a stage exported with #[transform] cannot be generic: implement Transform for one \
             concrete type",
        ));
    }
    if !matches!(*imp.self_ty, Type::Path(_)) {
        return Err(syn::Error::new_spanned(
            &imp.self_ty,
            "#[transform] exports a named type: implement Transform for a struct or enum",
        ));
    }
    let glue = exports(&imp.self_ty);
    Ok(quote!(#imp #glue))
}

fn expand_fn(f: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &f.sig;
    if let Some(t) = &sig.asyncness {
        return Err(syn::Error::new_spanned(t, "a transform function cannot be async"));
    }
    if let Some(t) = &sig.unsafety {
        return Err(syn::Error::new_spanned(t, "a transform function cannot be unsafe"));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&sig.generics, "a transform function cannot be generic"));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(v, "a transform function cannot be variadic"));
    }
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    if let Some(FnArg::Receiver(r)) = inputs.first() {
        return Err(syn::Error::new_spanned(
            r,
            "#[transform] goes on a free function; for a method, implement Transform instead",
        ));
    }
    let params_ty = match inputs.len() {
        2 => None,
        3 => {
            let FnArg::Typed(arg) = inputs[0] else { unreachable!("receiver handled above") };
            match &*arg.ty {
                Type::Reference(r) => Some((*r.elem).clone()),
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "the params argument must be a reference, `params: &Params` or \
                         `state: &mut State`",
                    ));
                }
            }
        }
        _ => {
            return Err(syn::Error::new_spanned(
                &sig.inputs,
                "a transform function takes `(batch: &Batch<'_>, out: &mut Output)`, \
                 optionally after a params argument `params: &Params`",
            ));
        }
    };

    let name = &sig.ident;
    let stage = format_ident!("__SluiceStage_{}", name);
    let call_span = sig.span();
    let call = match &params_ty {
        Some(_) => quote_spanned!(call_span=> #name(&mut self.0, batch, out)),
        None => quote_spanned!(call_span=> #name(batch, out)),
    };
    let body = match &sig.output {
        ReturnType::Default => quote!({ #call; ::core::result::Result::Ok(()) }),
        ReturnType::Type(..) => {
            quote!(::core::result::Result::map_err(#call, |e| ::std::string::ToString::to_string(&e)))
        }
    };
    let (fields, params, init) = match &params_ty {
        Some(ty) => (quote!((#ty)), quote!(#ty), quote!(Self(params))),
        None => (
            quote!(),
            quote!(::sluice_transform::NoParams),
            quote!({
                let _ = params;
                Self
            }),
        ),
    };
    let glue = exports(&syn::parse_quote!(#stage));
    Ok(quote! {
        #f

        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
        struct #stage #fields;

        impl ::sluice_transform::Transform for #stage {
            type Params = #params;

            fn init(params: Self::Params) -> ::core::result::Result<Self, ::std::string::String> {
                ::core::result::Result::Ok(#init)
            }

            fn process(
                &mut self,
                batch: &::sluice_transform::Batch<'_>,
                out: &mut ::sluice_transform::Output,
            ) -> ::core::result::Result<(), ::std::string::String> {
                #body
            }
        }

        #glue
    })
}

/// The component exports for stage type `ty`, compiled in wasm builds only.
fn exports(ty: &Type) -> TokenStream2 {
    let runtime = Ident::new("__SLUICE_RUNTIME", Span::call_site());
    quote! {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            ::std::thread_local! {
                static #runtime: ::core::cell::RefCell<::sluice_transform::__private::Runtime<#ty>> =
                    const {
                        ::core::cell::RefCell::new(
                            ::sluice_transform::__private::Runtime::new(::core::env!("CARGO_PKG_NAME")),
                        )
                    };
            }

            struct __SluiceExports;

            impl ::sluice_transform::__private::abi::Guest for __SluiceExports {
                fn init(
                    params: ::std::string::String,
                ) -> ::core::result::Result<::sluice_transform::StageInfo, ::std::string::String> {
                    ::sluice_transform::__private::abi::init(&#runtime, params)
                }

                fn process(
                    batch: ::sluice_transform::OwnedBatch,
                ) -> ::core::result::Result<::sluice_transform::BatchOutput, ::std::string::String> {
                    ::sluice_transform::__private::abi::process(&#runtime, batch)
                }
            }

            ::sluice_transform::__private::abi::__export_stage!(
                __SluiceExports with_types_in ::sluice_transform::__private::abi
            );
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(attr: TokenStream2, item: TokenStream2) -> String {
        match expand(attr, item) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn misuse_is_a_spanned_error() {
        assert!(
            error(
                quote!(),
                quote!(
                    struct S;
                )
            )
            .starts_with("#[transform] goes on `impl Transform for YourStage")
        );
        assert_eq!(
            error(
                quote!(fast),
                quote!(
                    fn f() {}
                )
            ),
            "#[transform] takes no arguments"
        );
        assert!(error(quote!(), quote!(impl S { fn f() {} })).contains("needs a trait impl"));
        assert!(error(quote!(), quote!(impl Clone for S {})).contains("an impl of `sluice_transform::Transform`"));
        assert!(
            error(
                quote!(),
                quote!(
                    impl<T> Transform for S<T> {}
                )
            )
            .contains("cannot be generic")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    async fn f(b: &Batch<'_>, o: &mut Output) {}
                )
            )
            .contains("async")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn f<T>(b: &Batch<'_>, o: &mut Output) {}
                )
            )
            .contains("generic")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn f(b: &Batch<'_>) {}
                )
            )
            .contains("takes `(batch: &Batch<'_>, out: &mut Output)`")
        );
        assert!(
            error(
                quote!(),
                quote!(
                    fn f(p: Params, b: &Batch<'_>, o: &mut Output) {}
                )
            )
            .contains("must be a reference")
        );
    }

    #[test]
    fn expands_functions_and_impls() {
        let out = expand(
            quote!(),
            quote!(
                fn f(p: &mut P, b: &Batch<'_>, o: &mut Output) -> Result<(), String> {
                    Ok(())
                }
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("struct __SluiceStage_f (P)"), "{out}");
        assert!(out.contains("type Params = P"), "{out}");
        assert!(out.contains("__export_stage"), "{out}");
        assert!(out.contains("cfg (target_arch = \"wasm32\")"), "{out}");

        let out = expand(
            quote!(),
            quote!(
                fn g(b: &Batch<'_>, o: &mut Output) {}
            ),
        )
        .unwrap()
        .to_string();
        assert!(out.contains("NoParams"), "{out}");

        let out = expand(quote!(), quote!(impl sluice_transform::Transform for S { })).unwrap().to_string();
        assert!(out.contains("Runtime < S >"), "{out}");
    }
}
